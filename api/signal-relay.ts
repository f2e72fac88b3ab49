import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Db } from '../common/db.js';
import { errorSummary } from '../common/error-summary.js';
import { periodicRounds } from '../common/periodic.js';
import type { PendingSignal } from '../generated/prisma/client.js';

/**
 * Delivers signals a request just queued, after its change committed: a failure here (Temporal away, a database blip)
 * must not turn the committed change into an error answer, so it is logged and the relay's next round delivers them.
 */
export async function deliverOrLeaveQueued(relay: SignalRelay, log: Logger, ids: string[]): Promise<void> {
  await relay.deliver(ids).catch((error: unknown) => {
    log.warn({ err: error }, 'signals queued, not delivered now: the signal relay delivers them on its next round');
  });
}

export interface SignalRelay {
  /** Delivers these now, waiting at most `deadlineMs` on Temporal; what doesn't go through stays queued. */
  deliver(ids: string[], deadlineMs?: number): Promise<void>;
  start(intervalMs: number): void;
  stop(): Promise<void>;
}

/**
 * Delivers queued signals to their workflows. A signal to a workflow that has already closed has nothing left to
 * stop, so it is dropped; anything else (Temporal down, a timeout) is retried on the next round.
 */
export function createSignalRelay({ db, temporal, logger }: { db: Db; temporal: Client; logger: Logger }): SignalRelay {
  async function deliverOne(row: PendingSignal, deadline: number): Promise<void> {
    try {
      await temporal.connection.withDeadline(deadline, () =>
        temporal.workflow.getHandle(row.workflowId).signal(row.signal, row.payload),
      );
      // deleteMany/updateMany: the periodic round and an immediate delivery may race for the same row.
      await db.pendingSignal.deleteMany({ where: { id: row.id } });
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) {
        await db.pendingSignal.deleteMany({ where: { id: row.id } });
        return;
      }
      const lastError = errorSummary(error);
      await db.pendingSignal.updateMany({ where: { id: row.id }, data: { attempts: { increment: 1 }, lastError } });
      logger.warn(
        { workflowId: row.workflowId, signal: row.signal, attempts: row.attempts + 1, err: lastError },
        'signal not delivered yet; will retry',
      );
    }
  }

  async function deliverRows(rows: PendingSignal[], deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    await Promise.all(rows.map((row) => deliverOne(row, deadline)));
  }

  async function round(): Promise<void> {
    const rows = await db.pendingSignal.findMany({ orderBy: { createdAt: 'asc' }, take: 200 });
    if (rows.length) await deliverRows(rows, 5000);
  }

  return {
    async deliver(ids, deadlineMs = 2000) {
      if (ids.length === 0) return;
      await deliverRows(await db.pendingSignal.findMany({ where: { id: { in: ids } } }), deadlineMs);
    },
    ...periodicRounds(round, { logger, what: 'signal relay' }),
  };
}
