import { randomUUID } from 'node:crypto';
import express, { Router } from 'express';
import { parse as parseCsv } from 'csv-parse/sync';
import pLimit from 'p-limit';
import { z } from 'zod';
import { leadCreatedEvent } from '../../common/event-writers.js';
import { recordEvent } from '../../common/events.js';
import { phoneHash } from '../../common/opt-outs.js';
import { isKnownTimeZone, normalisePhone } from '../../common/phone.js';
import type { Lead } from '../../generated/prisma/client.js';
import { tenantOf } from '../auth.js';
import { createEnrollmentStarter, enrollmentSnapshot, type WorkflowStart } from '../enrollment-starter.js';
import { ApiError, notFound, parseBody, parseQuery } from '../errors.js';
import { asTemporalUnavailable } from '../temporal-errors.js';
import type { EnrollmentsDeps } from './enrollments.js';

const maxBatchRows = 10_000;
/** Starts in flight at once: enough to keep Temporal busy, few enough not to swamp it or the database pool. */
const startConcurrency = 64;
const maxConsecutiveFailures = 20;
/** 10,000 new leads take two statements each for their events: well past the default 5 s of a transaction. */
const leadInsertTimeoutMs = 60_000;

const leadRow = z.object({
  phone: z.string().max(40).optional(),
  firstName: z.string().trim().max(100).optional(),
  lastName: z.string().trim().max(100).optional(),
  timeZone: z.string().optional(),
});
export const batchSchema = z.strictObject({
  sequenceId: z.uuid(),
  dryRun: z.boolean().default(false),
  leads: z.array(z.unknown()).min(1).max(maxBatchRows),
});
export const csvQuerySchema = z.strictObject({
  sequenceId: z.uuid(),
  dryRun: z.enum(['true', 'false']).default('false'),
});

type Outcome =
  | 'ok'
  | 'enrolled'
  | 'invalid_row'
  | 'invalid_phone'
  | 'invalid_time_zone'
  | 'duplicate_row'
  | 'opted_out'
  | 'already_enrolled'
  | 'failed';
interface RowResult {
  row: number;
  outcome: Outcome;
  phone?: string;
  reason?: string;
  leadId?: string;
  enrollmentId?: string;
  workflowId?: string;
}
interface GoodRow {
  result: RowResult;
  phone: string;
  firstName: string | null;
  lastName: string | null;
  timeZone: string | null;
}

function readRequest(req: express.Request): { sequenceId: string; dryRun: boolean; rows: unknown[] } {
  if (req.is('text/csv')) {
    const query = parseQuery(csvQuerySchema, req.query);
    let rows: unknown[];
    try {
      rows = parseCsv(typeof req.body === 'string' ? req.body : '', {
        columns: true,
        skip_empty_lines: true,
        trim: true,
        bom: true,
      });
    } catch (error) {
      throw new ApiError(
        400,
        'bad_request',
        `The CSV could not be read: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (rows.length === 0 || rows.length > maxBatchRows)
      throw new ApiError(
        422,
        'validation_failed',
        `A batch has 1 to ${maxBatchRows} rows; this one has ${rows.length}`,
      );
    return { sequenceId: query.sequenceId, dryRun: query.dryRun === 'true', rows };
  }
  const body = parseBody(batchSchema, req.body);
  return { sequenceId: body.sequenceId, dryRun: body.dryRun, rows: body.leads };
}

/** Checks each row on its own (phone, zone, duplicates within the batch), without touching the database. */
function checkRows(rows: unknown[], defaultRegion: string): { results: RowResult[]; good: GoodRow[] } {
  const seen = new Map<string, number>();
  const results: RowResult[] = [];
  const good: GoodRow[] = [];
  rows.forEach((raw, index) => {
    const row = index + 1;
    const parsed = leadRow.safeParse(raw);
    if (!parsed.success)
      return void results.push({
        row,
        outcome: 'invalid_row',
        reason: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '),
      });
    const phone = parsed.data.phone ? normalisePhone(parsed.data.phone, defaultRegion) : null;
    if (!phone)
      return void results.push({
        row,
        outcome: 'invalid_phone',
        reason: `not a possible phone number for region ${defaultRegion}`,
      });
    const timeZone = parsed.data.timeZone || null;
    if (timeZone && !isKnownTimeZone(timeZone))
      return void results.push({
        row,
        outcome: 'invalid_time_zone',
        phone,
        reason: `unknown IANA time zone ${timeZone}`,
      });
    const firstRow = seen.get(phone);
    if (firstRow !== undefined)
      return void results.push({ row, outcome: 'duplicate_row', phone, reason: `same phone as row ${firstRow}` });
    seen.set(phone, row);
    const result: RowResult = { row, outcome: 'ok', phone };
    results.push(result);
    good.push({
      result,
      phone,
      firstName: parsed.data.firstName || null,
      lastName: parsed.data.lastName || null,
      timeZone,
    });
  });
  return { results, good };
}

export function enrollmentBatchRouter(deps: EnrollmentsDeps): Router {
  const { db, temporal } = deps;
  const router = Router();
  const { startWorkflow } = createEnrollmentStarter(deps);

  /** Dry-run reports what a commit would do, row by row; a commit does it, starting the good rows concurrently. */
  router.post('/enrollments/batch', express.text({ type: 'text/csv', limit: '5mb' }), async (req, res) => {
    const tenantId = tenantOf(req);
    const { sequenceId, dryRun, rows } = readRequest(req);
    const [tenant, sequence] = await Promise.all([
      db.tenant.findUniqueOrThrow({ where: { id: tenantId } }),
      db.sequenceDefinition.findFirst({ where: { id: sequenceId, tenantId } }),
    ]);
    if (!sequence) throw notFound('Sequence');
    const { results, good } = checkRows(rows, tenant.defaultRegion);
    const phones = good.map((row) => row.phone);
    const [optOuts, existingLeads] = await Promise.all([
      db.optOut.findMany({
        where: { tenantId, phoneHash: { in: phones.map(phoneHash) } },
        select: { phoneHash: true },
      }),
      db.lead.findMany({ where: { tenantId, phone: { in: phones } } }),
    ]);
    const running = await db.enrollment.findMany({
      where: { tenantId, status: 'running', leadId: { in: existingLeads.map((lead) => lead.id) } },
      select: { leadId: true, id: true },
    });
    const optedOut = new Set(optOuts.map((optOut) => optOut.phoneHash));
    const leadByPhone = new Map(existingLeads.map((lead) => [lead.phone, lead]));
    const runningByLead = new Map(running.map((enrollment) => [enrollment.leadId, enrollment.id]));
    const toStart = good.filter(({ result, phone }) => {
      const lead = leadByPhone.get(phone);
      if (optedOut.has(phoneHash(phone)))
        Object.assign(result, { outcome: 'opted_out', reason: 'the lead has opted out of messages' });
      else if (lead && runningByLead.has(lead.id))
        Object.assign(result, {
          outcome: 'already_enrolled',
          leadId: lead.id,
          enrollmentId: runningByLead.get(lead.id),
        });
      return result.outcome === 'ok';
    });

    if (!dryRun && toStart.length > 0) {
      // One quick look first: with Temporal down, 10,000 starts would each wait out their deadline.
      await temporal.connection
        .withDeadline(Date.now() + 3000, () => temporal.workflowService.getSystemInfo({}))
        .catch((error: unknown) => {
          throw (
            asTemporalUnavailable(error) ??
            new ApiError(503, 'temporal_unavailable', 'Temporal is unavailable; nothing was started, retry later')
          );
        });
      let consecutiveFailures = 0;
      // Only the leads this insert created (a concurrent request's are skipped) are `lead.created` here.
      await db.$transaction(
        async (tx) => {
          const created = await tx.lead.createManyAndReturn({
            data: toStart
              .filter(({ phone }) => !leadByPhone.has(phone))
              .map((row) => ({
                tenantId,
                phone: row.phone,
                firstName: row.firstName,
                lastName: row.lastName,
                timeZone: row.timeZone ?? tenant.defaultTimeZone,
              })),
            skipDuplicates: true,
          });
          for (const lead of created) await recordEvent(tx, leadCreatedEvent(lead));
        },
        { timeout: leadInsertTimeoutMs },
      );
      for (const lead of await db.lead.findMany({
        where: { tenantId, phone: { in: toStart.map((row) => row.phone) } },
      }))
        leadByPhone.set(lead.phone, lead);
      const limit = pLimit(startConcurrency);
      const started = await Promise.all(
        toStart.map((row) =>
          limit(async () => {
            const lead = leadByPhone.get(row.phone) as Lead;
            const enrollmentId = randomUUID();
            const enrolledAt = new Date();
            // After a run of failures Temporal has gone away: the rest fail fast instead of each waiting out a deadline.
            const outcome: WorkflowStart | Error =
              consecutiveFailures >= maxConsecutiveFailures
                ? new Error('not attempted')
                : await startWorkflow(tenant, lead, sequence, enrollmentId, null, enrolledAt).catch((error: unknown) =>
                    error instanceof Error ? error : new Error(String(error)),
                  );
            consecutiveFailures = outcome instanceof Error ? consecutiveFailures + 1 : 0;
            if (outcome instanceof Error)
              Object.assign(row.result, {
                outcome: 'failed',
                leadId: lead.id,
                reason:
                  'the lead was saved; its follow-up may not have started: retrying the row is safe (a running one is reported already_enrolled)',
              });
            else if (outcome.kind === 'already_running')
              Object.assign(row.result, {
                outcome: 'already_enrolled',
                leadId: lead.id,
                workflowId: outcome.workflowId,
              });
            else
              Object.assign(row.result, {
                outcome: 'enrolled',
                leadId: lead.id,
                enrollmentId,
                workflowId: outcome.workflowId,
              });
            return outcome instanceof Error || outcome.kind !== 'started'
              ? null
              : {
                  id: enrollmentId,
                  tenantId,
                  leadId: lead.id,
                  sequenceId: sequence.id,
                  workflowId: outcome.workflowId,
                  runId: outcome.runId,
                  ...enrollmentSnapshot(tenant, lead, enrolledAt),
                };
          }),
        ),
      );
      const enrollments = started.filter((row) => row !== null);
      // The workflows upsert their rows too; skipDuplicates lets whichever write comes second be a no-op.
      await db.enrollment.createMany({ data: enrollments, skipDuplicates: true });
    }

    const summary: Partial<Record<Outcome, number>> = {};
    for (const result of results) summary[result.outcome] = (summary[result.outcome] ?? 0) + 1;
    res.status(200).json({ dryRun, sequenceId, rows: results.length, summary, results });
  });

  return router;
}
