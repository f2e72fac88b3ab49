import type { Request } from 'express';
import { z } from 'zod';
import { earliestQueryYear } from '../common/analytics/range.js';
import { ianaTimeZone, notAnIanaTimeZone } from '../common/phone.js';
import { ApiError, notFound } from './errors.js';

/**
 * A UUID as the database gives it back, in lower case: PostgreSQL matches one in any case, but the service compares IDs
 * as strings and builds them into workflow IDs and kill-switch scopes, where `ABC…` is not `abc…`.
 */
export const uuidField = z.uuid().transform((id) => id.toLowerCase());

/** An ID that is not even a UUID cannot exist: answer 404 rather than let the database reject the cast. */
export function idParam(value: unknown, what: string): string {
  const parsed = uuidField.safeParse(value);
  if (!parsed.success) throw notFound(what);
  return parsed.data;
}

/** An instant a query filters rows by; an earlier year than any the service keeps is a client's mistake, answered 400. */
export const queryInstant = z.iso
  .datetime()
  .refine((value) => new Date(value).getUTCFullYear() >= earliestQueryYear, `must be in ${earliestQueryYear} or later`);

/** A time zone field: an IANA name in any case, answered and saved as IANA spells it. */
export const timeZoneField = z.string().transform((zone, ctx) => {
  const name = ianaTimeZone(zone);
  if (!name) ctx.addIssue({ code: 'custom', message: notAnIanaTimeZone });
  return name ?? z.NEVER;
});

/** Control characters, the line and paragraph separators phones show as line breaks, and bidirectional overrides. */
const lineBreaksOrControls = /[\p{Cc}\p{Zl}\p{Zp}\u202A-\u202E\u2066-\u2069]/u;

/**
 * A value a message carries as written (a lead's name, the business's name, the support contact): one line without
 * control characters. Names often come from public web forms, and a line break in one would let a text from the
 * tenant's number carry a line of someone else's ("Ada\nYour account is locked: http://…").
 */
export const messageValue = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .refine((value) => !lineBreaksOrControls.test(value), 'must be one line, without control characters');

/** A list's page size: at most `max`, `fallback` when not given. */
export const pageLimit = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);

/**
 * Where the page before ended: its last item's instant the list is ordered by (`createdAt` mostly), `_`, and its `id`.
 * Rows written by one statement share their `createdAt` (a batch's leads), so the instant alone would leave the rest of
 * them out of the next page.
 */
const pageCursor = z
  .string()
  .max(100)
  .refine((value) => {
    const [at, id, ...rest] = value.split('_');
    return queryInstant.safeParse(at).success && (id === undefined || uuidField.safeParse(id).success) && !rest.length;
  }, `must be a page's \`next\`, or an ISO 8601 instant in ${earliestQueryYear} or later`);

/**
 * A newest-first page's query: `?limit=` (at most `max`, `fallback` when not given) and `?before=`, the previous answer's
 * `next` (or an instant: the rows created before it).
 */
export const olderPageQuery = (max: number, fallback: number) => ({
  limit: pageLimit(max, fallback),
  before: pageCursor.optional(),
});

/** A page's order: newest first, and among rows of one instant by `id`, as the cursor names them. */
export const newestFirst = [{ createdAt: 'desc' }, { id: 'desc' }] as const;

/** The instant a list is ordered by, newest first: when the row was written, or for some lists another time. */
type OrderInstant = 'createdAt' | 'startedAt' | 'startsAt';

/** The rows a page's `?before=` leaves in: those after its cursor in the list's order (`field`, then `id`, newest first). */
export function orderedBefore<Field extends OrderInstant>(field: Field, before: string | undefined) {
  if (!before) return {};
  const [at = '', id] = before.split('_');
  const instant = new Date(at);
  const earlier = { [field]: { lt: instant } } as Record<Field, { lt: Date }>;
  if (!id) return earlier;
  const sameInstant = { [field]: instant } as Record<Field, Date>;
  return { AND: [{ OR: [earlier, { ...sameInstant, id: { lt: id } }] }] };
}

/** The rows after a `?before=` cursor in a list ordered by when they were written. */
export const createdBefore = (before: string | undefined) => orderedBefore('createdAt', before);

/**
 * A page's answer: its items, and `next`, the `?before=` of the page after it (null when this one was not full), named
 * by the instant the list is ordered by (`createdAt` unless told).
 */
export const pageAnswer = <Row extends { id: string } & Partial<Record<OrderInstant, Date>>, View>(
  rows: Row[],
  limit: number,
  view: (row: Row) => View,
  orderedBy: OrderInstant = 'createdAt',
) => {
  const last = rows.at(-1);
  const instant = last?.[orderedBy];
  return {
    items: rows.map(view),
    next: rows.length === limit && last && instant ? `${instant.toISOString()}_${last.id}` : null,
  };
};

/**
 * The query of a list of one kind of workflow-backed row: by lead and status (`statuses`, the Prisma enum), paged as
 * every list is.
 */
export const workflowListQuery = <Status extends Record<string, string>>(statuses: Status) =>
  z.strictObject({ leadId: uuidField.optional(), status: z.enum(statuses).optional(), ...olderPageQuery(200, 50) });

/** The rows such a list answers with: the tenant's, narrowed to the lead and the status when the query names them. */
export const workflowListWhere = <Status extends string>(
  tenantId: string,
  { leadId, status }: { leadId?: string | undefined; status?: Status | undefined },
) => ({ tenantId, ...(leadId ? { leadId } : {}), ...(status ? { status } : {}) });

const idempotencyKeyPattern = /^[\w.:-]{1,200}$/;

/** The header of a POST that honours Idempotency-Key, as the OpenAPI document describes it. */
export const idempotencyKeyHeader = z.object({
  'Idempotency-Key': z
    .string()
    .regex(idempotencyKeyPattern)
    .optional()
    .describe(
      'Repeats with the same key and body answer the first result; another request under it answers 409 ' +
        'idempotency_key_reused (a booking repeated with only another start time answers the booking as it is now: ' +
        'it may have been moved since; two sent at once with different bodies: one answers 201, the other 409)',
    ),
});

/** The request's Idempotency-Key header, or undefined without one; 400 for one that is not a usable key. */
export function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  if (key !== undefined && !idempotencyKeyPattern.test(key)) {
    throw new ApiError(400, 'bad_request', 'Idempotency-Key must be 1-200 letters, digits or . _ : -');
  }
  return key;
}

/** A yes/no query parameter, as it comes in a URL. */
export const queryFlag = z.enum(['true', 'false']);

/** GET of one enrollment or appointment: the rows answer; `?live=true` also asks the workflow run. */
export const liveReadQuery = z.strictObject({ live: queryFlag.optional() });
