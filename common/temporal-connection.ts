// One place that turns settings into Temporal connection options, for the worker (NativeConnection.connect), the API
// (Connection.lazy) and anything else that connects: a dev server, a self-hosted cluster with TLS, or Temporal Cloud
// is a matter of settings only.
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import type { Config } from './config.js';

export type TemporalConnectionSettings = Pick<
  Config,
  | 'TEMPORAL_ADDRESS'
  | 'TEMPORAL_NAMESPACE'
  | 'TEMPORAL_TLS'
  | 'TEMPORAL_TLS_CLIENT_CERT_PATH'
  | 'TEMPORAL_TLS_CLIENT_KEY_PATH'
  | 'TEMPORAL_TLS_SERVER_CA_CERT_PATH'
  | 'TEMPORAL_TLS_SERVER_NAME'
  | 'TEMPORAL_API_KEY'
>;

/** What both `Connection` (client) and `NativeConnection` (worker) accept. */
export interface TemporalConnectionOptions {
  address: string;
  /** Absent: plaintext (a dev server, a cluster inside a private network). */
  tls?: TLSConfig;
  /** Sent as `Authorization: Bearer <key>` (Temporal Cloud API keys). */
  apiKey?: string;
  metadata?: Record<string, string>;
}

/**
 * TLS is on when TEMPORAL_TLS=true or any TLS setting or an API key is set (an API key is never sent in clear text);
 * TEMPORAL_TLS=false with any of them is refused by the settings parser. Certificates are read here, at start.
 */
export function temporalConnectionOptions(
  settings: TemporalConnectionSettings,
  readFile: (path: string) => Buffer = readFileSync,
): TemporalConnectionOptions {
  const apiKey = settings.TEMPORAL_API_KEY;
  const useTls =
    settings.TEMPORAL_TLS ??
    Boolean(
      settings.TEMPORAL_TLS_CLIENT_CERT_PATH ||
      settings.TEMPORAL_TLS_CLIENT_KEY_PATH ||
      settings.TEMPORAL_TLS_SERVER_CA_CERT_PATH ||
      settings.TEMPORAL_TLS_SERVER_NAME ||
      apiKey,
    );
  if (!useTls) return { address: settings.TEMPORAL_ADDRESS };
  if (Boolean(settings.TEMPORAL_TLS_CLIENT_CERT_PATH) !== Boolean(settings.TEMPORAL_TLS_CLIENT_KEY_PATH)) {
    throw new Error('TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together');
  }
  const tls: TLSConfig = {
    ...(settings.TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: settings.TEMPORAL_TLS_SERVER_NAME } : {}),
    ...(settings.TEMPORAL_TLS_SERVER_CA_CERT_PATH
      ? { serverRootCACertificate: readFile(settings.TEMPORAL_TLS_SERVER_CA_CERT_PATH) }
      : {}),
    ...(settings.TEMPORAL_TLS_CLIENT_CERT_PATH && settings.TEMPORAL_TLS_CLIENT_KEY_PATH
      ? {
          clientCertPair: {
            crt: readFile(settings.TEMPORAL_TLS_CLIENT_CERT_PATH),
            key: readFile(settings.TEMPORAL_TLS_CLIENT_KEY_PATH),
          },
        }
      : {}),
  };
  return {
    address: settings.TEMPORAL_ADDRESS,
    tls,
    // Temporal Cloud routes an API-key request by this header when the address is a regional endpoint.
    ...(apiKey ? { apiKey, metadata: { 'temporal-namespace': settings.TEMPORAL_NAMESPACE } } : {}),
  };
}

/** For start-up logs: how the connection is made, never with what. */
export function describeTemporalConnection(options: TemporalConnectionOptions): {
  address: string;
  tls: boolean;
  auth: 'api_key' | 'client_certificate' | 'none';
} {
  return {
    address: options.address,
    tls: options.tls !== undefined,
    auth: options.apiKey ? 'api_key' : options.tls?.clientCertPair ? 'client_certificate' : 'none',
  };
}
