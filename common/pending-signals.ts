import type { Prisma } from '../generated/prisma/client.js';
import { optOutSignal, inboundReplySignal } from '../workflows/lead-follow-up.types.js';

type Tx = Prisma.TransactionClient;
type SignalFor = { signal: typeof optOutSignal.name; payload: { source: string } } | { signal: typeof inboundReplySignal.name; payload: { messageSid: string } };

/**
 * Queues a signal for every running follow-up of this phone, in the caller's transaction, so the change that
 * causes the signals and the signals themselves commit together; the relay delivers them to Temporal afterwards.
 */
export async function queueSignalsForPhone(tx: Tx, tenantId: string, phone: string, { signal, payload }: SignalFor): Promise<string[]> {
  const running = await tx.enrollment.findMany({ where: { tenantId, status: 'running', lead: { phone } }, select: { workflowId: true } });
  const workflowIds = [...new Set(running.map((enrollment) => enrollment.workflowId))];
  const queued = await Promise.all(workflowIds.map((workflowId) => tx.pendingSignal.create({ data: { tenantId, workflowId, signal, payload }, select: { id: true } })));
  return queued.map((row) => row.id);
}

export const signalNames = { optOut: optOutSignal.name, inboundReply: inboundReplySignal.name } as const;
