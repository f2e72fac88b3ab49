// A batch's rows checked one by one before anything is written: phone, time zone, and duplicates within the batch.
import { z } from 'zod';
import { ianaTimeZone, normalisePhone, notAnIanaTimeZone } from '../common/phone.js';
import { messageValue } from './params.js';

export type RowOutcome =
  | 'ok'
  | 'enrolled'
  | 'invalid_row'
  | 'invalid_phone'
  | 'invalid_time_zone'
  | 'time_zone_required'
  | 'time_zone_conflict'
  | 'duplicate_row'
  | 'opted_out'
  | 'missing_value'
  | 'already_enrolled'
  | 'failed';

/** One row's line in the answer; filled in as the batch goes (an `ok` row becomes `enrolled`, `failed`, …). */
export interface RowResult {
  row: number;
  outcome: RowOutcome;
  phone?: string;
  reason?: string;
  leadId?: string;
  enrollmentId?: string;
  workflowId?: string;
}

/** A row good enough to enrol, with its line in the answer. */
export interface GoodRow {
  result: RowResult;
  phone: string;
  firstName: string | null;
  lastName: string | null;
  timeZone: string | null;
}

// Strict, as every body is: a misnamed field ("firstname") would enrol the lead without its name.
const leadRow = z.strictObject({
  phone: z.string().max(40).optional(),
  firstName: messageValue(100).optional(),
  lastName: messageValue(100).optional(),
  timeZone: z.string().optional(),
});

/** The fields a row may carry: a CSV's header names these and no others. */
export const leadRowFields = Object.keys(leadRow.shape);

/** Checks each row on its own (phone, zone, duplicates within the batch), without touching the database. */
export function checkRows(rows: unknown[], defaultRegion: string): { results: RowResult[]; good: GoodRow[] } {
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
    const givenZone = parsed.data.timeZone || null;
    const timeZone = givenZone && ianaTimeZone(givenZone);
    if (givenZone && !timeZone)
      return void results.push({
        row,
        outcome: 'invalid_time_zone',
        phone,
        reason: `${givenZone}: ${notAnIanaTimeZone}`,
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

/** How many rows came to each outcome. */
export function summarise(results: RowResult[]): Partial<Record<RowOutcome, number>> {
  const summary: Partial<Record<RowOutcome, number>> = {};
  for (const result of results) summary[result.outcome] = (summary[result.outcome] ?? 0) + 1;
  return summary;
}
