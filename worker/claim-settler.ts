// A claimed message whose run has ended has no attempt coming to settle it. An attempt that died at Twilio (a crash, a
// timeout, a 5xx) leaves the row claimed for the next attempt, which asks Twilio first; when none comes (the retries
// ran out at the enrollment's expiry or the message's deadline while Twilio kept failing, or an operator terminated the
// run and closed its row) the row would stay `pending` for ever, the lead perhaps holding the message. This chore asks
// Twilio instead and records what became of it: sent (with its SID) when Twilio has it, else skipped for the reason its
// owner closed. A held row no attempt claimed, whose run ended without closing it (an operator terminated it), never
// reached Twilio: it is closed as its owner's close would have closed it.
import type { Logger } from 'pino';
import { Prisma } from '../generated/prisma/client.js';
import type { Message } from '../generated/prisma/client.js';
import { databaseNow, type Db } from '../common/db.js';
import { maskPhone } from '../common/logger.js';
import { noMetrics, type MessageMetrics } from '../common/metrics.js';
import { periodicRounds, type PeriodicRounds } from '../common/periodic.js';
import type { SmsSender } from '../activities/sms-sender.js';
import { settlerAttempt } from '../activities/send-gate.js';
import { findEarlierHandover, recordHandover } from '../activities/twilio-handover.js';
import { closeUnsent, type HeldClaim } from '../activities/unsent-messages.js';
import { lockUnclaimedMessagesOf } from '../common/lock-order.js';
import { beginClosingUnclaimed } from '../common/unclaimed-messages.js';

/**
 * Far past any attempt: a claim's lease is 30 s and Twilio's create call times out in 10 s, so an attempt that
 * claimed this long ago is done with Twilio (or stalled past its lease, when it stays off Twilio).
 */
export const settleClaimsAfterMs = 10 * 60_000;
const rowsPerRound = 50;

/** A round's instants by PostgreSQL's clock: rows untouched since `cutoff` are taken, the take stamped `now`. */
interface RoundClock {
  cutoff: Date;
  now: Date;
}

export interface ClaimSettler extends PeriodicRounds {
  /**
   * One pass over the pending rows whose run has ended (claimed, or held by a run that never closed them); resolves once
   * each was settled or left for the next.
   */
  round(): Promise<void>;
}

interface Abandoned {
  id: string;
  enrollment_status: string | null;
  appointment_status: string | null;
}

export function createClaimSettler({
  db,
  sender,
  logger,
  metrics = noMetrics,
}: {
  db: Db;
  sender: SmsSender;
  logger: Logger;
  metrics?: MessageMetrics;
}): ClaimSettler {
  /** Why the row never went: what its owner's close said, as that close skipped the rows no attempt had claimed. */
  const skipReasonOf = (owner: Abandoned) =>
    owner.enrollment_status ?? `appointment_${owner.appointment_status ?? 'closed'}`;

  async function settle(row: Message, owner: Abandoned, { cutoff, now }: RoundClock): Promise<void> {
    if (!row.claimedAt) return;
    // Taken by a write (`settlerAttempt`, no attempt's number, and the send gate claims over none) made only if
    // nothing wrote to the row for the wait: a second worker process, or this one's next round, leaves it for another
    // wait, so one that dies before it records anything is followed by another. The claim's time stays: the lead's
    // caps count the message from it. The close is made only while the take holds.
    const take: HeldClaim = { attempt: settlerAttempt, at: row.claimedAt };
    const taken = await db.message.updateMany({
      where: { id: row.id, status: 'pending', claimedAt: row.claimedAt, updatedAt: { lt: cutoff } },
      // Stamped by PostgreSQL's clock, which the next take's cutoff is read from, not by this process's (Prisma's own).
      data: { claimedAttempt: settlerAttempt, updatedAt: now },
    });
    if (taken.count === 0) return;
    try {
      await settleTaken(row, owner, take);
    } catch (error) {
      // Twilio or PostgreSQL failed mid-settle: the take is let go (as an attempt lets go of its claim), so a run's
      // attempt still to come may claim it, and a later round takes it again after the wait. A take this cannot let
      // go (PostgreSQL down) is taken again by that round all the same: an attempt that finds it taken writes nothing.
      await db.message
        .updateMany({
          where: { id: row.id, status: 'pending', claimedAttempt: settlerAttempt, claimedAt: row.claimedAt },
          data: { claimedAttempt: null },
        })
        .catch((release: unknown) => logger.error({ err: release, messageId: row.id }, 'the take was not let go'));
      throw error;
    }
  }

  async function settleTaken(row: Message, owner: Abandoned, take: HeldClaim): Promise<void> {
    const sms = { to: row.toPhone, body: row.body, from: row.fromPhone ?? sender.defaultFrom };
    const found = await findEarlierHandover({ db, sender }, row, sms);
    const facts = { messageId: row.id, to: maskPhone(row.toPhone), enrollmentId: row.enrollmentId };
    if (found) {
      if (await recordHandover(db, row, found)) metrics.messageRecorded(found.status);
      logger.warn({ ...facts, twilioSid: found.sid }, 'a claimed message its run left behind had gone out: recorded');
      return;
    }
    const skipReason = skipReasonOf(owner);
    if (
      !(await closeUnsent(db, row, { status: 'skipped', skipReason }, { onlyUnder: take, heldBy: row.heldReason }))
        .closed
    )
      return;
    metrics.messageRecorded('skipped');
    logger.warn({ ...facts, skipReason }, 'a claimed message its run left behind never reached Twilio: skipped');
  }

  /**
   * A row no attempt claimed (held for the window, a cap or capacity) whose owner ended with no close of its own: an
   * operator terminated the run and closed its enrollment by hand. It never reached Twilio: it closes as the owner's
   * close would have closed it, its capacity given back and the CRM told.
   */
  async function closeUnclaimed(row: Message, owner: Abandoned): Promise<void> {
    const skipReason = skipReasonOf(owner);
    const of = row.enrollmentId
      ? { enrollmentId: row.enrollmentId }
      : row.appointmentId
        ? { appointmentId: row.appointmentId }
        : null;
    if (!of) return;
    const closed = await db.$transaction(async (tx) => {
      await lockUnclaimedMessagesOf(tx, of);
      return (await beginClosingUnclaimed(tx, { id: row.id }, skipReason)).close();
    });
    if (!closed) return;
    metrics.messageRecorded('skipped');
    logger.warn(
      { messageId: row.id, enrollmentId: row.enrollmentId, appointmentId: row.appointmentId, skipReason },
      'an unclaimed message its run left behind (terminated?) will never go: skipped',
    );
  }

  async function round(): Promise<void> {
    // PostgreSQL's clock, which wrote the claims: by a clock ten minutes ahead, a claim just made would look abandoned.
    const now = await databaseNow(db);
    const cutoff = new Date(now.getTime() - settleClaimsAfterMs);
    const abandoned = await db.$queryRaw<Abandoned[]>(Prisma.sql`
      SELECT m.id, e.status::text AS enrollment_status, a.status::text AS appointment_status
      FROM messages m
      LEFT JOIN enrollments e ON e.id = m.enrollment_id
      LEFT JOIN appointments a ON a.id = m.appointment_id
      WHERE m.status = 'pending' AND (m.claimed_at < ${cutoff} OR m.claimed_at IS NULL) AND m.updated_at < ${cutoff}
        AND (e.status <> 'running'
          -- A cancelled appointment's notice is still sent until its deadline, the start as its run has it (the
          -- row's can lag the run's), and attempts may come until just after that. Rows from before the deadline
          -- was written wait for the row's start.
          OR (a.status <> 'scheduled' AND (m.idempotency_key <> 'appointment:' || a.id || ':cancellation'
            OR coalesce(m.send_by, a.starts_at) < ${cutoff})))
      ORDER BY m.claimed_at
      LIMIT ${rowsPerRound}`);
    if (abandoned.length === 0) return;
    const rows = await db.message.findMany({ where: { id: { in: abandoned.map((owner) => owner.id) } } });
    for (const owner of abandoned) {
      const row = rows.find((candidate) => candidate.id === owner.id);
      try {
        if (row) await (row.claimedAt ? settle(row, owner, { cutoff, now }) : closeUnclaimed(row, owner));
      } catch (error) {
        // Twilio or PostgreSQL unavailable: a row it took comes round again after the wait.
        logger.error({ err: error, messageId: owner.id }, 'a message its run left behind was not settled');
      }
    }
  }

  return { ...periodicRounds(round, { logger, what: 'claim settler' }), round };
}
