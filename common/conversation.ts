// The facts that decide whether a (tenant, phone) may be texted now, and the lock that orders them against the send
// gate: every path that records such a fact (an inbound STOP or reply, the opt-out API, a booking, a cancel, an
// erasure) takes the same lock in its transaction, so the gate's last look before Twilio sees it or comes before it.
import type { Prisma } from '../generated/prisma/client.js';
import type { Db } from './db.js';

type Tx = Prisma.TransactionClient | Db;

/**
 * What ended an enrollment before its workflow heard of it; the gate answers a refused step with it. `undeliverable`:
 * Twilio's status callback said a message to the lead's number cannot be delivered (30005, 30006) or was filtered as
 * spam (30007), so the next steps would fare no better.
 */
export const haltReasons = ['replied', 'booked', 'opted_out', 'cancelled', 'erased', 'undeliverable'] as const;
export type HaltReason = (typeof haltReasons)[number];
const isHaltReason = (reason: string | null): reason is HaltReason =>
  (haltReasons as readonly (string | null)[]).includes(reason);
/** The halt recorded on the row, as the gate reads it back (a reason this code does not know is a cancel). */
export const haltReasonOf = (recorded: string | null): HaltReason => (isHaltReason(recorded) ? recorded : 'cancelled');

/**
 * Takes the transaction-scoped lock of one conversation (a tenant and a phone in E.164). Held until the transaction
 * ends; outside a transaction it would be released at once, so always call it inside `$transaction`.
 */
export async function lockConversation(tx: Prisma.TransactionClient, tenantId: string, phone: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`${tenantId}:${phone}`}, 0))`;
}

/**
 * `lockConversation`, answering PostgreSQL's clock once the lock is held: the instant a claim made under it is made
 * at, by the clock every worker's claims are judged with (a worker's own may be a minute off). In the lock's own
 * statement, so the send gate's say under the lock stays one read and one write.
 */
export async function lockConversationAt(tx: Prisma.TransactionClient, tenantId: string, phone: string): Promise<Date> {
  const [row] = await tx.$queryRaw<{ now: Date }[]>`
    WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock(hashtextextended(${`${tenantId}:${phone}`}, 0)))
    SELECT clock_timestamp() AS now FROM locked`;
  return row!.now;
}

/**
 * Takes the locks of several conversations of one tenant in one statement, in phone order: two callers whose phones
 * overlap take the shared ones in the same order, so neither waits for the other in a circle.
 */
export async function lockConversations(
  tx: Prisma.TransactionClient,
  tenantId: string,
  phones: string[],
): Promise<void> {
  const keys = [...new Set(phones)].sort().map((phone) => `${tenantId}:${phone}`);
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(key, 0))
    FROM unnest(${keys}::text[]) WITH ORDINALITY AS locked(key, n) ORDER BY n`;
}

/**
 * `startedBefore`: only enrollments started before it (a reply processed late is no answer to a later one, nor a
 * booking recorded again by its run to a follow-up the CRM started since).
 */
export type HaltScope = { tenantId: string } & (
  | { leadId: string; startedBefore?: Date | undefined }
  | { phone: string; startedBefore?: Date | undefined }
  | { enrollmentId: string }
);

/**
 * Records `reason` on every running enrollment in scope that has not been halted yet and returns them (the ones
 * halted earlier keep their first reason). Call it in the transaction that records the fact, before any signal.
 */
export async function haltEnrollments(
  tx: Tx,
  scope: HaltScope,
  reason: HaltReason,
): Promise<{ id: string; workflowId: string; runId: string | null; haltedBy: string | null }[]> {
  const where: Prisma.EnrollmentWhereInput = {
    tenantId: scope.tenantId,
    status: 'running',
    ...('leadId' in scope
      ? { leadId: scope.leadId }
      : 'phone' in scope
        ? { lead: { phone: scope.phone } }
        : { id: scope.enrollmentId }),
    ...('startedBefore' in scope && scope.startedBefore ? { startedAt: { lt: scope.startedBefore } } : {}),
  };
  const running = await tx.enrollment.findMany({
    where,
    select: { id: true, workflowId: true, runId: true, haltedAt: true, haltedBy: true },
  });
  const fresh = running.filter((enrollment) => enrollment.haltedAt === null).map((enrollment) => enrollment.id);
  if (fresh.length === 0)
    return running.map(({ id, workflowId, runId, haltedBy }) => ({ id, workflowId, runId, haltedBy }));
  await tx.enrollment.updateMany({
    where: { id: { in: fresh }, haltedAt: null },
    data: { haltedAt: new Date(), haltedBy: reason },
  });
  // Read again under the rows' locks: a run that recorded its start since the read above (its run ID) did so without
  // seeing this halt, so the caller must reach it; one that records it after sees the halt (recordEnrollmentStarted).
  return tx.enrollment.findMany({
    where: { id: { in: running.map((enrollment) => enrollment.id) } },
    select: { id: true, workflowId: true, runId: true, haltedBy: true },
  });
}

/** The closed reason of an appointment cancelled by its lead's erasure: final, whatever its workflow records later. */
export const erasedClosedReason = 'erased';
