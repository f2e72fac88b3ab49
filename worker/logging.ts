import { DefaultLogger, Runtime, makeTelemetryFilterString, type LogEntry } from '@temporalio/worker';
import type { Logger } from 'pino';

const pinoLevel = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

export interface TemporalRuntimeOptions {
  /**
   * Where the SDK's own Prometheus exporter listens (`127.0.0.1:<port>`); the worker's /metrics serves what it
   * exports. Unset: no SDK metrics.
   */
  prometheusBindAddress?: string | undefined;
}

/**
 * Installs the process's one Temporal runtime: the SDK's runtime, workflow and activity logs go to pino (workflow and
 * activity entries carry the SDK's metadata: workflowId, runId, activity attempt), and its metrics to a Prometheus
 * exporter. Runtime.install may run once per process and before any connection, so only entry points call this.
 */
export function routeTemporalLogsToPino(logger: Logger, options: TemporalRuntimeOptions = {}): void {
  const temporalLogger = new DefaultLogger('INFO', (entry: LogEntry) => {
    logger[pinoLevel[entry.level]]({ ...entry.meta }, entry.message);
  });
  Runtime.install({
    logger: temporalLogger,
    telemetryOptions: {
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN' }) },
      ...(options.prometheusBindAddress
        ? { metrics: { prometheus: { bindAddress: options.prometheusBindAddress } } }
        : {}),
    },
  });
}
