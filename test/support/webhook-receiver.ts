// A CRM's webhook receiver on 127.0.0.1: every request is checked with standardwebhooks' Webhook.verify against the
// secrets the test registered for its path (any one of them must verify), as a receiver following the spec would.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: { type: string; timestamp: string; data: Record<string, unknown> };
  /** Which registered secrets verified the signature (by index). */
  verifiedBy: number[];
  at: number;
}

/** What the receiver answers a path's n-th request (from 0): a status, a status after a delay, or 'hold' (never). */
export type Answer = (n: number) => number | { status: number; afterMs: number } | 'hold';

export interface WebhookReceiver {
  port: number;
  urlFor(path: string): string;
  /** Registers the secrets a path's requests must be signed with, and how it answers. */
  expect(path: string, secrets: string[], answer?: Answer): void;
  received(path: string): ReceivedWebhook[];
  /** Requests to a registered path whose signature none of its secrets verified: should stay empty. */
  unverified: ReceivedWebhook[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const routes = new Map<string, { secrets: string[]; answer: Answer }>();
  const byPath = new Map<string, ReceivedWebhook[]>();
  const unverified: ReceivedWebhook[] = [];
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const path = req.url ?? '';
      const route = routes.get(path);
      // Not a path of this receiver's: an endpoint another test file left behind on a port the system has since given
      // to this receiver. Gone for good, and no verdict on this file's deliveries.
      if (!route) return void res.writeHead(410).end();
      const verifiedBy = route.secrets.flatMap((secret, index) => {
        try {
          new Webhook(secret).verify(raw, req.headers as Record<string, string>);
          return [index];
        } catch {
          return [];
        }
      });
      const received = {
        path,
        headers: req.headers,
        body: JSON.parse(raw) as ReceivedWebhook['body'],
        verifiedBy,
        at: Date.now(),
      };
      const list = byPath.get(path) ?? [];
      byPath.set(path, list);
      const n = list.length;
      list.push(received);
      if (verifiedBy.length === 0) {
        unverified.push(received);
        return res.writeHead(400).end();
      }
      const answer = route.answer(n);
      if (answer === 'hold') held.push(res);
      else if (typeof answer === 'number') res.writeHead(answer).end();
      else {
        held.push(res);
        setTimeout(() => res.writeHead(answer.status).end(), answer.afterMs);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    urlFor: (path) => `http://127.0.0.1:${port}${path}`,
    expect(path, secrets, answer = () => 200) {
      routes.set(path, { secrets, answer });
    },
    received: (path) => [...(byPath.get(path) ?? [])],
    unverified,
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
