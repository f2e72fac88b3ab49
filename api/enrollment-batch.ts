// Enrolling a batch of leads in one sequence: rows checked, known leads looked up (opted out, already enrolled), and
// on a commit the new leads saved, their enrollments claimed and the follow-ups started concurrently. A dry run stops
// before any write.
import type { Client } from '@temporalio/client';
import pLimit from 'p-limit';
import type { Db } from '../common/db.js';
import { leadCreatedEvent } from '../common/event-writers.js';
import { recordEvents } from '../common/events.js';
import { zoneFromNumber } from '../common/lead-time-zone.js';
import { zoneConflicts } from '../common/phone.js';
import { optedOutAmong } from '../common/opt-outs.js';
import type { Lead, SequenceDefinition, Tenant } from '../generated/prisma/client.js';
import { claimBatchEnrollments, settleBatchClaims } from './enrollment-batch-claims.js';
import { checkRows, summarise, type GoodRow, type RowResult } from './enrollment-batch-rows.js';
import type { WorkflowStart, createEnrollmentStarter } from './enrollment-starter.js';
import { ApiError, notFound } from './errors.js';
import { nothingSendableTo, refuseUnsendableSequence } from './unsendable-sequence.js';
import { asTemporalUnavailable, mayHaveHappened } from './temporal-errors.js';

/** Starts in flight at once: enough to keep Temporal busy, few enough not to swamp it or the database pool. */
const startConcurrency = 64;
const maxConsecutiveFailures = 20;
/**
 * Rows claimed ahead of their starts: about 6 s of starts here, at most ~3 min if every start waits out its deadline
 * (inside the claim sweeper's 10 minutes); a lead's closing run to wait for adds up to 10 s to that row's start.
 */
const startGroupSize = 1000;
/** 10,000 new leads and their events may take longer than a transaction's default 5 s. */
const leadInsertTimeoutMs = 60_000;

export interface BatchRequest {
  sequenceId: string;
  dryRun: boolean;
  rows: unknown[];
}

export interface BatchDeps {
  db: Db;
  temporal: Client;
  startWorkflow: ReturnType<typeof createEnrollmentStarter>['startWorkflow'];
  defaultSender: string;
}

interface Batch {
  tenant: Tenant;
  sequence: SequenceDefinition;
  /** The good rows left to start once the known leads are looked at. */
  toStart: GoodRow[];
  /** The tenant's leads by phone, for the batch's phones: those already saved, then those this batch saves. */
  leadByPhone: Map<string, Lead>;
  /** A new lead's zone when its row gives none: its number's. */
  zoneFromNumberOf: Map<string, string>;
  defaultSender: string;
}

/** A row giving a saved lead another zone than its own: taken, it would be texted on a clock the CRM did not ask for. */
const timeZoneConflict = (lead: Lead) => ({
  outcome: 'time_zone_conflict' as const,
  leadId: lead.id,
  reason: `the lead is saved in ${lead.timeZone}: change it with PATCH /v1/leads/${lead.id}, or leave timeZone empty`,
});

/**
 * Rows whose lead has opted out, or already has a running follow-up, are answered so, as are rows whose lead the
 * sequence would send nothing (every step uses a name it has not), rows giving a saved lead another zone than its own
 * and new leads whose zone their number cannot tell (common/lead-time-zone.ts); the rest are left to start, a new
 * lead's row with the zone it is saved with. What this reads can change before the starts: a row's opt-outs are looked
 * at again under its conversation's lock when its enrollment is claimed, and a start still refuses a running follow-up
 * (workflow ID conflict).
 */
async function setAsideKnownLeads(
  db: Db,
  { tenant, sequence }: { tenant: Tenant; sequence: SequenceDefinition },
  good: GoodRow[],
  defaultSender: string,
) {
  const tenantId = tenant.id;
  const phones = good.map((row) => row.phone);
  const [optedOut, existingLeads] = await Promise.all([
    optedOutAmong(db, tenantId, phones, defaultSender),
    db.lead.findMany({ where: { tenantId, phone: { in: phones } } }),
  ]);
  // Only enrollments with a run: a claim whose start never came (its API process died first) is no follow-up, and the
  // claim sweeper settles it (removed, or closed as a fact that halted it); one whose start may have landed is settled
  // by the start Temporal refuses.
  const running = await db.enrollment.findMany({
    where: {
      tenantId,
      status: 'running',
      runId: { not: null },
      leadId: { in: existingLeads.map((lead) => lead.id) },
    },
    select: { leadId: true, id: true },
  });
  const leadByPhone = new Map(existingLeads.map((lead) => [lead.phone, lead]));
  const zoneFromNumberOf = new Map<string, string>();
  const runningByLead = new Map(running.map((enrollment) => [enrollment.leadId, enrollment.id]));
  const toStart = good.filter((row) => {
    const { result, phone } = row;
    const lead = leadByPhone.get(phone);
    const zone = lead || row.timeZone ? null : zoneFromNumber(phone, tenant.defaultTimeZone);
    const optedOutBecause = optedOut(phone);
    const sentNothing = nothingSendableTo(sequence, lead ?? row);
    if (optedOutBecause) Object.assign(result, { outcome: 'opted_out', reason: optedOutBecause });
    else if (lead && runningByLead.has(lead.id))
      Object.assign(result, { outcome: 'already_enrolled', leadId: lead.id, enrollmentId: runningByLead.get(lead.id) });
    else if (sentNothing) Object.assign(result, { outcome: 'missing_value', reason: sentNothing });
    else if (lead && zoneConflicts(row.timeZone, lead, tenant.defaultTimeZone))
      Object.assign(result, timeZoneConflict(lead));
    else if (zone && 'zoneNeeded' in zone)
      Object.assign(result, { outcome: 'time_zone_required', reason: zone.zoneNeeded });
    else if (zone) zoneFromNumberOf.set(phone, zone.timeZone);
    return result.outcome === 'ok';
  });
  return { toStart, leadByPhone, zoneFromNumberOf };
}

/** One quick look first: with Temporal down, 10,000 starts would each wait out their deadline. */
async function ensureTemporalAnswers(temporal: Client): Promise<void> {
  await temporal.connection
    .withDeadline(Date.now() + 3000, () => temporal.workflowService.getSystemInfo({}))
    .catch((error: unknown) => {
      throw (
        asTemporalUnavailable(error) ??
        new ApiError(503, 'temporal_unavailable', 'Temporal is unavailable; nothing was started, retry later')
      );
    });
}

/**
 * Saves the batch's new leads; only those this insert created (a concurrent request's are skipped) are `lead.created`.
 * A lead another request saved since the batch looked (another batch, `POST /v1/leads`) is judged as a saved one: a
 * row giving it another zone is answered `time_zone_conflict` and left out.
 */
async function saveNewLeads(db: Db, batch: Batch): Promise<void> {
  const { tenant, toStart, leadByPhone, zoneFromNumberOf } = batch;
  const newRows = toStart.filter(({ phone }) => !leadByPhone.has(phone));
  const created = await db.$transaction(
    async (tx) => {
      const saved = await tx.lead.createManyAndReturn({
        data: newRows.map((row) => ({
          tenantId: tenant.id,
          phone: row.phone,
          firstName: row.firstName,
          lastName: row.lastName,
          timeZone: row.timeZone ?? zoneFromNumberOf.get(row.phone) ?? tenant.defaultTimeZone,
        })),
        skipDuplicates: true,
      });
      await recordEvents(tx, tenant.id, saved.map(leadCreatedEvent));
      return new Set(saved.map((lead) => lead.phone));
    },
    { timeout: leadInsertTimeoutMs },
  );
  for (const lead of await db.lead.findMany({
    where: { tenantId: tenant.id, phone: { in: toStart.map((row) => row.phone) } },
  }))
    leadByPhone.set(lead.phone, lead);
  const savedMeanwhile = newRows.filter(({ phone }) => !created.has(phone));
  for (const { phone, timeZone, result } of savedMeanwhile) {
    const lead = leadByPhone.get(phone);
    if (lead && zoneConflicts(timeZone, lead, tenant.defaultTimeZone)) Object.assign(result, timeZoneConflict(lead));
  }
  batch.toStart = toStart.filter(({ result }) => result.outcome === 'ok');
}

/** Each row's outcome from its start: enrolled, already enrolled (a run was there), or failed and safe to retry. */
function recordStart(result: RowResult, lead: Lead, enrollmentId: string, start: WorkflowStart | Error): void {
  if (start instanceof Error && mayHaveHappened(start))
    Object.assign(result, {
      outcome: 'failed',
      leadId: lead.id,
      enrollmentId,
      reason:
        'the start went unanswered and may have landed: the enrollment is kept, and settled once it is 10 minutes old and Temporal answers (its run recorded, or the enrollment removed if none started); retry the row after that',
    });
  else if (start instanceof Error)
    Object.assign(result, {
      outcome: 'failed',
      leadId: lead.id,
      reason:
        'the lead was saved; its follow-up may not have started: retrying the row is safe (a running one is reported already_enrolled)',
    });
  else if (start.kind === 'already_running')
    Object.assign(result, { outcome: 'already_enrolled', leadId: lead.id, workflowId: start.workflowId });
  else Object.assign(result, { outcome: 'enrolled', leadId: lead.id, enrollmentId, workflowId: start.workflowId });
}

/**
 * Claims the rows' enrollments, starts their follow-ups concurrently and settles each claim by its start, a group of
 * rows at a time: a claim waits for its start only as long as its group takes, well inside the age at which the claim
 * sweeper takes an unsettled claim for abandoned (api/claim-sweeper.ts).
 */
async function startFollowUps({ db, startWorkflow }: BatchDeps, batch: Batch): Promise<void> {
  const { tenant, sequence } = batch;
  let consecutiveFailures = 0;
  const limit = pLimit(startConcurrency);
  for (let from = 0; from < batch.toStart.length; from += startGroupSize) {
    const claimed = await claimBatchEnrollments(db, {
      ...batch,
      rows: batch.toStart.slice(from, from + startGroupSize),
    });
    const starts = await Promise.all(
      claimed.map(({ row, lead, enrollmentId, enrolledAt }) =>
        limit(async () => {
          // After a run of failures Temporal has gone away: the rest fail fast instead of each waiting out a deadline.
          const start: WorkflowStart | Error =
            consecutiveFailures >= maxConsecutiveFailures
              ? new Error('not attempted')
              : await startWorkflow(tenant, lead, sequence, enrollmentId, null, enrolledAt).catch((error: unknown) =>
                  error instanceof Error ? error : new Error(String(error)),
                );
          consecutiveFailures = start instanceof Error ? consecutiveFailures + 1 : 0;
          recordStart(row.result, lead, enrollmentId, start);
          // A start that went unanswered may still land: its claim is left for the claim sweeper to settle.
          if (start instanceof Error && mayHaveHappened(start)) return { enrollmentId, runId: undefined };
          return { enrollmentId, runId: start instanceof Error || start.kind !== 'started' ? null : start.runId };
        }),
      ),
    );
    await settleBatchClaims(
      db,
      starts.flatMap(({ enrollmentId, runId }) => (runId ? [{ enrollmentId, runId }] : [])),
      starts.filter(({ runId }) => runId === null).map(({ enrollmentId }) => enrollmentId),
    );
  }
}

/** A dry run reports what a commit would do, row by row; a commit does it. The answer is the same shape either way. */
export async function runEnrollmentBatch(
  deps: BatchDeps,
  tenantId: string,
  { sequenceId, dryRun, rows }: BatchRequest,
) {
  const { db, temporal } = deps;
  const [tenant, sequence] = await Promise.all([
    db.tenant.findUniqueOrThrow({ where: { id: tenantId } }),
    db.sequenceDefinition.findFirst({ where: { id: sequenceId, tenantId } }),
  ]);
  if (!sequence) throw notFound('Sequence');
  refuseUnsendableSequence(sequence, tenant);
  const { results, good } = checkRows(rows, tenant.defaultRegion);
  const { defaultSender } = deps;
  const batch: Batch = {
    tenant,
    sequence,
    defaultSender,
    ...(await setAsideKnownLeads(db, { tenant, sequence }, good, defaultSender)),
  };
  if (!dryRun && batch.toStart.length > 0) {
    await ensureTemporalAnswers(temporal);
    await saveNewLeads(db, batch);
    await startFollowUps(deps, batch);
  }
  return { dryRun, sequenceId, rows: results.length, summary: summarise(results), results };
}
