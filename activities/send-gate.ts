// The last word before any Twilio call: one short transaction, under the conversation's lock, that sees every fact
// recorded so far (opt-outs, replies, bookings, cancels, erasures, the caps across enrollments, the appointment as it
// is now) and either claims the message for this attempt or says why not. Workflow state plans; PostgreSQL decides.
import { type Prisma, type Message } from '../generated/prisma/client.js';
import { lockConversation, type HaltReason } from '../common/conversation.js';
import type { Db } from '../common/db.js';
import { findOptOut } from '../common/opt-outs.js';
import { earliestSendTime, type SendingPolicy } from '../workflows/decisions/send-time.js';

type Tx = Prisma.TransactionClient;

/** What the message is: a sequence step checks its enrollment and the marketing caps, an appointment message its appointment. */
export type GateSubject =
  | { kind: 'step'; enrollmentId: string }
  | {
      kind: 'appointment';
      appointmentId: string;
      message: 'confirmation' | 'reminder' | 'cancellation';
      startsAt: string;
    };

/** Final refusals: the message will never go out. */
export type GateStop =
  'opted_out' | HaltReason | 'enrollment_closed' | 'appointment_moved' | 'appointment_closed' | 'appointment_confirmed';
/** Holds: the message may go out later, at `until`. */
export type GateHoldReason = 'cap_gap' | 'cap_daily' | 'window';

export type GateDecision =
  | { kind: 'claimed'; claimedAt: Date }
  | { kind: 'stop'; reason: GateStop }
  | { kind: 'hold'; reason: GateHoldReason; until: Date }
  /** Another attempt claimed the message first: it may be calling Twilio right now. */
  | { kind: 'claimed_elsewhere'; attempt: number | null; claimedAt: Date };

/** How long a claim keeps every other attempt off Twilio: the claimer calls Twilio within it or not at all. */
export const claimLeaseMs = 30_000;

/** A claim older than this cannot belong to an attempt still about to call Twilio (lease plus Twilio's own timeout). */
export const claimExpiredAfterMs = claimLeaseMs + 30_000;

/**
 * Whether another attempt may be calling Twilio for this message right now: it claimed it, has not let go (an
 * attempt lets go when its Twilio call fails) and its claim is not yet expired (a crashed or stalled attempt).
 */
export function isClaimLive(
  message: Pick<Message, 'claimedAt' | 'claimedAttempt'>,
  attempt: number,
  now = new Date(),
): boolean {
  if (!message.claimedAt || message.claimedAttempt === null || message.claimedAttempt === attempt) return false;
  return now.getTime() - message.claimedAt.getTime() < claimExpiredAfterMs;
}

const stopOf = (reason: string | null): GateStop =>
  reason === 'replied' || reason === 'booked' || reason === 'opted_out' || reason === 'cancelled' || reason === 'erased'
    ? reason
    : 'cancelled';

/**
 * The per-lead caps and the window hold across every enrollment: the instants of the tenant's latest marketing messages
 * to this phone that went out or were claimed (appointment messages and the keyword replies stay exempt). A send counts
 * from its claim, taken under this lock: its `sent_at` is written later, outside it, and may be after this gate's now.
 */
async function recentMarketingSends(tx: Tx, message: Message, since: Date): Promise<string[]> {
  const rows = await tx.$queryRaw<{ at: Date }[]>`
    SELECT coalesce(claimed_at, sent_at) AS at FROM messages
    WHERE tenant_id = ${message.tenantId}::uuid AND to_phone = ${message.toPhone} AND direction = 'outbound'
      AND enrollment_id IS NOT NULL AND id <> ${message.id}::uuid AND created_at >= ${since}
      AND coalesce(claimed_at, sent_at) IS NOT NULL
      AND NOT (status IN ('skipped', 'failed') AND twilio_sid IS NULL)
    ORDER BY 1 DESC LIMIT 50`;
  return rows.map((row) => row.at.toISOString());
}

async function stepDecision(tx: Tx, message: Message, enrollmentId: string, now: Date): Promise<GateDecision | null> {
  const enrollment = await tx.enrollment.findUnique({
    where: { id: enrollmentId },
    select: { status: true, haltedAt: true, haltedBy: true, lead: { select: { timeZone: true } }, tenant: true },
  });
  if (!enrollment) return { kind: 'stop', reason: 'enrollment_closed' };
  if (enrollment.haltedAt) return { kind: 'stop', reason: stopOf(enrollment.haltedBy) };
  if (enrollment.status !== 'running') return { kind: 'stop', reason: 'enrollment_closed' };
  const { tenant } = enrollment;
  // The tenant's caps as they are now, in the lead's zone: a change of settings applies to the next send.
  const policy: SendingPolicy = {
    timeZone: enrollment.lead.timeZone,
    window: { start: tenant.windowStart, end: tenant.windowEnd },
    minGapSeconds: tenant.minGapSeconds,
    maxPerDay: tenant.maxPerDay,
  };
  // Two local days back covers the daily cap in any zone, and the gap is far shorter.
  const since = new Date(now.getTime() - Math.max(2 * 86_400, tenant.minGapSeconds) * 1000);
  const plan = earliestSendTime(now, policy, await recentMarketingSends(tx, message, since));
  if (plan.at > now && plan.heldBy) return { kind: 'hold', reason: plan.heldBy, until: plan.at };
  return null;
}

async function appointmentDecision(
  tx: Tx | Db,
  subject: Extract<GateSubject, { kind: 'appointment' }>,
): Promise<GateDecision | null> {
  const appointment = await tx.appointment.findUnique({
    where: { id: subject.appointmentId },
    select: {
      status: true,
      startsAt: true,
      confirmedAt: true,
      tenant: { select: { skipRemindersAfterConfirm: true } },
    },
  });
  if (!appointment) return { kind: 'stop', reason: 'appointment_closed' };
  if (subject.message === 'cancellation')
    return appointment.status === 'scheduled' || appointment.status === 'cancelled'
      ? null
      : { kind: 'stop', reason: 'appointment_closed' };
  if (appointment.status !== 'scheduled') return { kind: 'stop', reason: 'appointment_closed' };
  // The lead confirmed by SMS and the tenant sends no reminders after that: one the workflow has not dropped yet stops here.
  if (subject.message === 'reminder' && appointment.confirmedAt && appointment.tenant.skipRemindersAfterConfirm)
    return { kind: 'stop', reason: 'appointment_confirmed' };
  return appointment.startsAt.getTime() === Date.parse(subject.startsAt)
    ? null
    : { kind: 'stop', reason: 'appointment_moved' };
}

/** Real time throughout: claims and caps are compared with the instants rows were sent at. */
export function createSendGate({ db }: { db: Db }) {
  /**
   * Decides under the conversation's lock and, when the message may go, claims it for `attempt` in the same
   * transaction. Only a claimed message is ever handed to Twilio, and only by the attempt that claimed it.
   */
  async function claim(
    row: Pick<Message, 'id' | 'tenantId' | 'toPhone'>,
    attempt: number,
    subject: GateSubject,
  ): Promise<GateDecision> {
    const messageId = row.id;
    return db.$transaction(async (tx) => {
      await lockConversation(tx, row.tenantId, row.toPhone);
      // Read again under the lock: another attempt may have claimed it since the caller looked.
      const message = await tx.message.findUniqueOrThrow({ where: { id: messageId } });
      const now = new Date();
      if (isClaimLive(message, attempt, now))
        return { kind: 'claimed_elsewhere', attempt: message.claimedAttempt, claimedAt: message.claimedAt ?? now };
      if (await findOptOut(tx, message.tenantId, message.toPhone)) return { kind: 'stop', reason: 'opted_out' };
      const refusal =
        subject.kind === 'step'
          ? await stepDecision(tx, message, subject.enrollmentId, now)
          : await appointmentDecision(tx, subject);
      if (refusal) return refusal;
      await tx.message.update({
        where: { id: messageId },
        data: { claimedAttempt: attempt, claimedAt: now, heldReason: null, heldUntil: null },
      });
      return { kind: 'claimed', claimedAt: now };
    });
  }

  /** The same facts without the lock or the claim: lets a retry give up before it takes any capacity. */
  async function precheck(
    message: Message,
    subject: GateSubject,
  ): Promise<Extract<GateDecision, { kind: 'stop' }> | null> {
    if (await findOptOut(db, message.tenantId, message.toPhone)) return { kind: 'stop', reason: 'opted_out' };
    if (subject.kind === 'appointment') {
      const decision = await appointmentDecision(db, subject);
      return decision?.kind === 'stop' ? decision : null;
    }
    const enrollment = await db.enrollment.findUnique({
      where: { id: subject.enrollmentId },
      select: { status: true, haltedAt: true, haltedBy: true },
    });
    if (!enrollment || enrollment.status !== 'running') return { kind: 'stop', reason: 'enrollment_closed' };
    return enrollment.haltedAt ? { kind: 'stop', reason: stopOf(enrollment.haltedBy) } : null;
  }

  return { claim, precheck };
}

export type SendGate = ReturnType<typeof createSendGate>;
