import { z } from 'zod';
import { notFound } from './errors.js';

const uuid = z.uuid();

/** An ID that is not even a UUID cannot exist: answer 404 rather than let the database reject the cast. */
export function idParam(value: unknown, what: string): string {
  const parsed = uuid.safeParse(value);
  if (!parsed.success) throw notFound(what);
  return parsed.data;
}

/** GET of one enrollment or appointment: the rows answer; `?live=true` also asks the workflow run. */
export const liveReadQuery = z.strictObject({ live: z.enum(['true', 'false']).optional() });
