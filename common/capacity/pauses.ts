// The kill switch's state: a row per paused scope ("global" or a tenant's ID). The send core checks it before every
// send; the API and the admin command turn it on and off, and every change is audited.
import type { Db } from '../db.js';
import type { Prisma, SendingPause } from '../../generated/prisma/client.js';
import { recordEvent } from '../events.js';

export const globalScope = 'global';

export interface PauseChange {
  /** `global` or a tenant's ID. */
  scope: string;
  /** Who asked: an API key's ID, `operator`, `admin-cli`. */
  actor: string;
  reason?: string | null;
}

const tenantOfScope = (scope: string) => (scope === globalScope ? null : scope);

/** Pauses and resumes of one scope take turns, so each sees the other's result: one event per change, no lost row. */
async function lockScope(tx: Prisma.TransactionClient, scope: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`sending-pause:${scope}`}, 0))`;
}

/** Events are a tenant's: a global switch has nobody to tell. */
async function recordPauseEvent(
  tx: Prisma.TransactionClient,
  type: 'sending.paused' | 'sending.resumed',
  { scope, actor, reason }: PauseChange,
): Promise<void> {
  const tenantId = tenantOfScope(scope);
  if (tenantId) await recordEvent(tx, { tenantId, type, data: { actor, reason: reason ?? null } });
}

/** Who pauses as the operator: a pause of theirs is lifted by the operator only, never by the tenant's own key. */
export const operatorActors = ['operator', 'admin-cli'];

/** A tenant's key asked to lift the pause the operator holds on it (its own or the operator's resume never is). */
export class PausedByOperatorError extends Error {
  constructor(readonly pause: SendingPause) {
    super('the operator paused this sending');
    this.name = 'PausedByOperatorError';
  }
}

/**
 * Turns the kill switch on (again: the first pause's time and author stay, and only the first is an event); sends
 * that have not started wait. The operator pausing a scope its tenant paused first takes the pause over, so the
 * tenant's key can no longer lift it.
 */
export async function pauseSending(db: Db, { scope, actor, reason = null }: PauseChange): Promise<SendingPause> {
  return db.$transaction(async (tx) => {
    await lockScope(tx, scope);
    const { count: pausedNow } = await tx.sendingPause.createMany({
      data: [{ scope, pausedBy: actor, reason }],
      skipDuplicates: true,
    });
    if (pausedNow) await recordPauseEvent(tx, 'sending.paused', { scope, actor, reason });
    else if (operatorActors.includes(actor))
      await tx.sendingPause.updateMany({
        where: { scope, pausedBy: { notIn: operatorActors } },
        // The tenant's reason stays unless the operator gives one; the time stays the pause's first.
        data: { pausedBy: actor, ...(reason === null ? {} : { reason }) },
      });
    await tx.auditLog.create({
      data: { tenantId: tenantOfScope(scope), actor, action: 'sending.paused', subject: scope, data: { reason } },
    });
    return tx.sendingPause.findUniqueOrThrow({ where: { scope } });
  });
}

/**
 * Turns the kill switch off; every waiting send goes on from where it was at its next look (KILL_SWITCH_RECHECK_SECONDS).
 * A tenant's key (any actor but the operator's) cannot lift a pause the operator holds: PausedByOperatorError.
 */
export async function resumeSending(db: Db, { scope, actor, reason = null }: PauseChange): Promise<boolean> {
  return db.$transaction(async (tx) => {
    await lockScope(tx, scope);
    const standing = await tx.sendingPause.findUnique({ where: { scope } });
    if (standing && operatorActors.includes(standing.pausedBy) && !operatorActors.includes(actor))
      throw new PausedByOperatorError(standing);
    const { count } = await tx.sendingPause.deleteMany({ where: { scope } });
    if (count) {
      await tx.auditLog.create({
        data: { tenantId: tenantOfScope(scope), actor, action: 'sending.resumed', subject: scope, data: { reason } },
      });
      await recordPauseEvent(tx, 'sending.resumed', { scope, actor, reason });
    }
    return count > 0;
  });
}
