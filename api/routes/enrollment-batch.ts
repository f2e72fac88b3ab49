// POST /v1/enrollments/batch: reads the rows (JSON or CSV) and answers; api/enrollment-batch.ts does the work.
import express, { Router } from 'express';
import { parse as parseCsv } from 'csv-parse/sync';
import { z } from 'zod';
import { tenantOf } from '../auth.js';
import { runEnrollmentBatch, type BatchRequest } from '../enrollment-batch.js';
import { leadRowFields } from '../enrollment-batch-rows.js';
import { createEnrollmentStarter } from '../enrollment-starter.js';
import { ApiError, parseBody, parseQuery, textNotInCharset } from '../errors.js';
import { refuseUnstorableTextInBody } from '../unstorable-text.js';
import { queryFlag, uuidField } from '../params.js';
import type { EnrollmentsDeps } from './enrollments.js';

const maxBatchRows = 10_000;

export const batchSchema = z.strictObject({
  sequenceId: uuidField,
  dryRun: z.boolean().default(false),
  leads: z.array(z.unknown()).min(1).max(maxBatchRows),
});
/** The same rows as CSV (Content-Type: text/csv), the sequence and dryRun then in the query. */
export const csvBodySchema = z
  .string()
  .describe('A header row `phone,firstName,lastName,timeZone` (only phone required), then one lead per line');
export const csvQuerySchema = z.strictObject({
  sequenceId: uuidField,
  dryRun: queryFlag.default('false'),
});

/**
 * A column the rows do not have ("first_name" for firstName) would be dropped from every lead: the CSV is refused. An
 * unnamed column with nothing in it (a trailing comma on every line, as spreadsheets export) is left out.
 */
function knownColumnsOnly(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  const unnamedEmpty = rows.every((row) => !row['']);
  const columns = Object.keys(rows[0] ?? {}).filter((column) => !(column === '' && unnamedEmpty));
  const unknown = columns.filter((column) => !leadRowFields.includes(column));
  if (unknown.length)
    throw new ApiError(
      422,
      'validation_failed',
      `Unknown column ${unknown.map((column) => column || '(unnamed)').join(', ')}: the header names ${leadRowFields.join(', ')}`,
      { fields: { header: unknown.map((column) => `unknown column ${column || '(unnamed)'}`) } },
    );
  return unnamedEmpty ? rows.map(({ '': _unnamed, ...named }) => named) : rows;
}

function readRequest(req: express.Request): BatchRequest {
  if (req.is('text/csv')) {
    const query = parseQuery(csvQuerySchema, req.query);
    let rows: Record<string, unknown>[];
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
    refuseUnstorableTextInBody(rows);
    if (rows.length === 0 || rows.length > maxBatchRows)
      throw new ApiError(
        422,
        'validation_failed',
        `A batch has 1 to ${maxBatchRows} rows; this one has ${rows.length}`,
      );
    return { sequenceId: query.sequenceId, dryRun: query.dryRun === 'true', rows: knownColumnsOnly(rows) };
  }
  // A JSON batch names its sequence and dryRun in the body: a query meant for it (`?dryRun=true` beside a body without
  // dryRun) would otherwise be ignored, and a dry run would enroll for real.
  const stray = Object.keys(req.query);
  if (stray.length)
    throw new ApiError(
      400,
      'bad_request',
      `A JSON batch takes sequenceId and dryRun in its body; the query (${stray.join(', ')}) is for text/csv only`,
      { fields: Object.fromEntries(stray.map((name) => [name, ['not taken with a JSON body']])) },
    );
  const body = parseBody(batchSchema, req.body);
  return { sequenceId: body.sequenceId, dryRun: body.dryRun, rows: body.leads };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A CSV naming no charset is read as UTF-8, and a byte that is not (a spreadsheet's Windows-1252 export of "José")
 * would become U+FFFD in the lead's name and every text that greets them: refused instead, so it can be sent again.
 */
function utf8Only(_req: unknown, _res: unknown, body: Buffer, encoding: string): void {
  if (!/^utf-?8$/i.test(encoding)) return;
  try {
    strictUtf8.decode(body);
  } catch {
    throw Object.assign(
      new Error(
        'The CSV is not UTF-8: save it as UTF-8, or name its charset in Content-Type (text/csv; charset=windows-1252)',
      ),
      { status: 415, type: textNotInCharset },
    );
  }
}

export function enrollmentBatchRouter(deps: EnrollmentsDeps): Router {
  const router = Router();
  const batchDeps = {
    db: deps.db,
    temporal: deps.temporal,
    startWorkflow: createEnrollmentStarter(deps).startWorkflow,
    defaultSender: deps.defaultSender,
  };

  /** Dry-run reports what a commit would do, row by row; a commit does it, starting the good rows concurrently. */
  router.post(
    '/enrollments/batch',
    express.text({ type: 'text/csv', limit: '5mb', verify: utf8Only }),
    async (req, res) => {
      res.status(200).json(await runEnrollmentBatch(batchDeps, tenantOf(req), readRequest(req)));
    },
  );

  return router;
}
