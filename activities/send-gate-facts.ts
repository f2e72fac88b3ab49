// What the send gate decides on, read in one statement per message kind: the message's claim, the phone's opt-out, the
// kill switch and
// either the enrollment (its halt, the lead's zone, the tenant's window and caps, the phone's recent marketing sends)
// or the appointment as it is now. One round trip keeps the conversation's lock short and the worker's CPU per send
// low; under that lock each statement sees every fact committed before it.
import { Prisma } from '../generated/prisma/client.js';
import type { Db } from '../common/db.js';
import { pauseOf } from '../common/capacity/facts.js';
import { phoneHashes, senderBlockStandsFor } from '../common/opt-outs.js';

type Reader = Prisma.TransactionClient | Db;

export interface MessageFacts {
  claimedAt: Date | null;
  claimedAttempt: number | null;
  /** The phone opted out of the tenant (its own STOP, the API, Twilio's 21610, an erasure). */
  optedOut: boolean;
  /**
   * The phone texted a STOP in its own words to the number the message goes from (a shared number, which Twilio does
   * not block: common/opt-outs.ts recordSenderOptOut), and the tenant has not recorded its consent since.
   */
  numberBlocked: boolean;
  /** The message's lead was erased: whatever still runs for it (a start that raced the erasure) never texts it. */
  leadErased: boolean;
  /** The kill switch that holds the tenant's sends, if any: the capacity count read it before the lock was had. */
  pausedScope: string | null;
  pausedBy: string | null;
}

export interface StepFacts extends MessageFacts {
  /** Null when the enrollment is gone; the columns after it are then null too. */
  enrollmentStatus: string | null;
  haltedAt: Date | null;
  haltedBy: string | null;
  /**
   * The step the API skipped the enrollment to (recorded before the run was asked), and this message's step (its
   * idempotency key is `<enrollmentId>:<step>`).
   */
  skippedToStep: number | null;
  step: number | null;
  timeZone: string;
  /** The tenant's zone: the lead's stands in for it unless the lead's is not one this build knows. */
  tenantTimeZone: string;
  windowStart: string;
  windowEnd: string;
  minGapSeconds: number;
  maxPerDay: number;
  /** ISO instants of the tenant's latest marketing messages to this phone that went out or were claimed. */
  recentSends: string[];
}

export interface AppointmentFacts extends MessageFacts {
  /** Null when the appointment is gone. */
  appointmentStatus: string | null;
  startsAt: Date | null;
  confirmedAt: Date | null;
  skipRemindersAfterConfirm: boolean;
  /** A move or cancel the API has asked the workflow for and not written yet (common/appointment-changes.ts). */
  changeRequestedAt: Date | null;
  /** When the message's first attempt wrote its row: one written long ago has waited (capacity, Twilio's retries). */
  writtenAt: Date;
  /** The lead's zone (null once the message has no lead) and the tenant's window, kept to by a message that has waited. */
  timeZone: string | null;
  tenantTimeZone: string;
  windowStart: string;
  windowEnd: string;
}

export interface MessageRef {
  id: string;
  tenantId: string;
  toPhone: string;
}

/**
 * The phone opted out of the tenant (`optedOut`), or of the number the message goes from (`numberBlocked`: a STOP in
 * its words to a shared number, which Twilio does not block: common/opt-outs.ts recordSenderOptOut), unless the tenant
 * has recorded its consent since (an opt-in in its consent log: `DELETE /v1/opt-outs/:phone`, or the lead's own START
 * or YES to it).
 */
const optOutColumns = (phone: string) => {
  const [current, legacy] = phoneHashes(phone);
  return Prisma.sql`
  EXISTS (SELECT 1 FROM opt_outs o WHERE o.tenant_id = m.tenant_id AND o.phone_hash IN (${current}, ${legacy}))
    AS "optedOut",
  EXISTS (SELECT 1 FROM sender_opt_outs so WHERE so.sender = m.from_phone AND so.phone_hash = ${current}
    AND ${senderBlockStandsFor(Prisma.sql`m.tenant_id`)}) AS "numberBlocked"`;
};

function only<T>(rows: T[], messageId: string): T {
  const [row] = rows;
  if (!row) throw new Error(`message ${messageId} not found`);
  return row;
}

/**
 * A send counts from its claim, taken under the conversation's lock (its `sent_at` is written later, outside it),
 * however long ago its row was written (a step held for days by a budget or a pause). Appointment messages and keyword
 * replies stay exempt; a message that never reached Twilio does not count. Two local days back covers the daily cap in
 * any zone, the gap is far shorter, and the latest `maxPerDay` sends are all either looks at.
 */
export async function readStepFacts(
  reader: Reader,
  message: MessageRef,
  enrollmentId: string,
  now: Date,
): Promise<StepFacts> {
  const rows = await reader.$queryRaw<(StepFacts & { recentSends: string[] | string })[]>`
    SELECT m.claimed_at AS "claimedAt", m.claimed_attempt AS "claimedAttempt",
      ${optOutColumns(message.toPhone)},
      EXISTS (SELECT 1 FROM leads el WHERE el.id = m.lead_id AND el.status = 'erased') AS "leadErased",
      p.scope AS "pausedScope", p.paused_by AS "pausedBy",
      e.status::text AS "enrollmentStatus", e.halted_at AS "haltedAt", e.halted_by AS "haltedBy",
      e.skipped_to_step AS "skippedToStep",
      CASE WHEN m.idempotency_key LIKE ${enrollmentId} || ':%'
        THEN substring(m.idempotency_key FROM ':([0-9]+)$')::int END AS "step",
      l.time_zone AS "timeZone", t.default_time_zone AS "tenantTimeZone", t.window_start AS "windowStart", t.window_end AS "windowEnd",
      t.min_gap_seconds AS "minGapSeconds", t.max_per_day AS "maxPerDay",
      (SELECT coalesce(json_agg(recent.at ORDER BY recent.at DESC), '[]'::json) FROM (
        SELECT coalesce(s.claimed_at, s.sent_at) AS at FROM messages s
        WHERE s.tenant_id = m.tenant_id AND s.to_phone = m.to_phone AND s.direction = 'outbound'
          AND s.enrollment_id IS NOT NULL AND s.id <> m.id
          AND coalesce(s.claimed_at, s.sent_at)
            >= ${now}::timestamptz - make_interval(secs => greatest(2 * 86400, t.min_gap_seconds))
          AND NOT (s.status IN ('skipped', 'failed') AND s.twilio_sid IS NULL)
        ORDER BY 1 DESC LIMIT greatest(t.max_per_day, 1)) recent) AS "recentSends"
    FROM messages m
    LEFT JOIN enrollments e ON e.id = ${enrollmentId}::uuid AND e.tenant_id = m.tenant_id
    LEFT JOIN leads l ON l.id = e.lead_id
    LEFT JOIN tenants t ON t.id = e.tenant_id
    LEFT JOIN LATERAL (${pauseOf(message.tenantId)}) p ON true
    WHERE m.id = ${message.id}::uuid`;
  const row = only(rows, message.id);
  const recent = typeof row.recentSends === 'string' ? (JSON.parse(row.recentSends) as string[]) : row.recentSends;
  return { ...row, recentSends: recent.map((at) => new Date(at).toISOString()) };
}

export async function readAppointmentFacts(
  reader: Reader,
  message: MessageRef,
  appointmentId: string,
): Promise<AppointmentFacts> {
  const rows = await reader.$queryRaw<AppointmentFacts[]>`
    SELECT m.claimed_at AS "claimedAt", m.claimed_attempt AS "claimedAttempt",
      ${optOutColumns(message.toPhone)},
      EXISTS (SELECT 1 FROM leads el WHERE el.id = m.lead_id AND el.status = 'erased') AS "leadErased",
      p.scope AS "pausedScope", p.paused_by AS "pausedBy",
      a.status::text AS "appointmentStatus", a.starts_at AS "startsAt", a.confirmed_at AS "confirmedAt",
      a.change_requested_at AS "changeRequestedAt", t.skip_reminders_after_confirm AS "skipRemindersAfterConfirm",
      m.created_at AS "writtenAt", l.time_zone AS "timeZone", t.default_time_zone AS "tenantTimeZone",
      t.window_start AS "windowStart", t.window_end AS "windowEnd"
    FROM messages m
    JOIN tenants t ON t.id = m.tenant_id
    LEFT JOIN leads l ON l.id = m.lead_id
    LEFT JOIN appointments a ON a.id = ${appointmentId}::uuid AND a.tenant_id = m.tenant_id
    LEFT JOIN LATERAL (${pauseOf(message.tenantId)}) p ON true
    WHERE m.id = ${message.id}::uuid`;
  return only(rows, message.id);
}
