// 7. Webhooks: a burst of events for one tenant reaches its CRM receiver (every signature verified), while another
// tenant's endpoint answers slowly. The relay runs in the stack's worker process, as in production.
import { randomUUID } from 'node:crypto';
import { recordEvent } from '../../common/events.js';
import { newWebhookSecret } from '../../common/webhooks/secrets.js';
import { startWebhookReceiver } from '../../test/support/webhook-receiver.js';
import { apiJson } from './http.js';
import { cpuWindow, type CpuWindow } from './proc.js';
import type { Ctx } from './sections.js';
import { round, waitFor } from './stats.js';

export interface WebhookBurstResult {
  events: number;
  /** Burst start → every event recorded (100 per transaction). */
  recordSeconds: number;
  /** Burst start → the receiver has every event (verified), or NaN if not within the wait. */
  allDeliveredSeconds: number;
  delivered: number;
  deliveriesPerSecond: number;
  /** Requests beyond one per event (at least once: a retry after a lost answer). */
  duplicates: number;
  unverified: number;
  /** The other tenant's endpoint: how long each answer takes, and how many it had answered by the end. */
  slowAnswerMs: number;
  slowAnswered: number;
  cpu: CpuWindow;
}

const slowAnswerMs = 2000;
const perTransaction = 100;

export async function webhookBurst(
  ctx: Ctx,
  options: { events: number; waitSeconds: number },
): Promise<WebhookBurstResult> {
  const { stack } = ctx;
  const receiver = await startWebhookReceiver();
  try {
    const endpoint = await apiJson<{ id: string; secret: string }>(
      stack.apiUrl,
      stack.apiKey,
      'POST',
      '/v1/webhook-endpoints',
      { url: receiver.urlFor('/crm'), description: 'bench' },
    );
    receiver.expect('/crm', [endpoint.secret]);
    // The slow neighbour: another tenant whose endpoint takes its time over every request, with a backlog.
    const neighbour = await stack.db.tenant.create({
      data: { name: `bench-slow-${randomUUID().slice(0, 8)}`, businessName: 'Slow CRM Ltd' },
    });
    const slowSecret = newWebhookSecret();
    await stack.db.webhookEndpoint.create({
      data: { tenantId: neighbour.id, url: receiver.urlFor('/slow'), secret: slowSecret },
    });
    receiver.expect('/slow', [slowSecret], () => ({ status: 200, afterMs: slowAnswerMs }));
    for (let i = 0; i < 50; i += 1)
      await stack.db.$transaction((tx) =>
        recordEvent(tx, { tenantId: neighbour.id, type: 'lead.created', data: { n: i } }),
      );
    await waitFor(
      'the slow endpoint to be busy',
      () => (receiver.received('/slow').length > 0 ? true : null),
      30_000,
      50,
    );

    ctx.log(
      `webhooks: ${options.events} events for one tenant while another tenant's endpoint answers in ${slowAnswerMs} ms`,
    );
    const window = cpuWindow(() => stack.pids());
    const started = performance.now();
    const expected = new Set<string>();
    for (let first = 0; first < options.events; first += perTransaction) {
      const ids = await stack.db.$transaction(async (tx) => {
        const recorded = [];
        for (let i = first; i < Math.min(first + perTransaction, options.events); i += 1) {
          recorded.push(
            await recordEvent(tx, {
              tenantId: stack.tenantId,
              type: 'message.sent',
              data: { messageId: randomUUID(), to: '+447700900123', segments: 1, n: i },
            }),
          );
        }
        return recorded.map((event) => `msg_${event.id}`);
      });
      for (const id of ids) expected.add(id);
    }
    const recordSeconds = (performance.now() - started) / 1000;
    // Only the burst's events count: the stack's own sends record events of this tenant too.
    const deliveredIds = () =>
      new Set(
        receiver
          .received('/crm')
          .map((entry) => String(entry.headers['webhook-id']))
          .filter((id) => expected.has(id)),
      );
    const complete = await waitFor(
      'every webhook delivered',
      () => (deliveredIds().size >= options.events ? true : null),
      options.waitSeconds * 1000,
      50,
    ).catch(() => false);
    const seconds = (performance.now() - started) / 1000;
    const cpu = window();
    const burst = receiver.received('/crm').filter((entry) => expected.has(String(entry.headers['webhook-id'])));
    const delivered = deliveredIds().size;
    if (!complete)
      ctx.log(`webhooks: only ${delivered} of ${options.events} delivered within ${options.waitSeconds} s; going on`);
    await stack.db.webhookEndpoint.updateMany({
      where: { tenantId: { in: [stack.tenantId, neighbour.id] } },
      data: { deletedAt: new Date() },
    });
    return {
      events: options.events,
      recordSeconds: round(recordSeconds, 2),
      allDeliveredSeconds: complete ? round(seconds, 2) : Number.NaN,
      delivered,
      deliveriesPerSecond: round(delivered / seconds),
      duplicates: burst.length - delivered,
      unverified: receiver.unverified.length,
      slowAnswerMs,
      slowAnswered: receiver.received('/slow').length,
      cpu,
    };
  } finally {
    await receiver.close();
  }
}
