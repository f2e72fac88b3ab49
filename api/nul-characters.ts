// PostgreSQL's text and jsonb cannot hold the NUL character (U+0000), which JSON carries as "\u0000": a value with one
// failed the statement writing it, answered 500, and an appointment's start already accepted by Temporal was left
// with no row (its run retrying the write for ever). A request's text is looked at once, before any route reads it.
import type { RequestHandler } from 'express';
import { ApiError } from './errors.js';

const refusal = 'contains the NUL character (U+0000), which cannot be stored';

/** The dotted path of the first string (or object key) in `value` holding a NUL character, or null when none does. */
export function nulCharacterAt(value: unknown, path = ''): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path || '(body)' : null;
  if (typeof value !== 'object' || value === null) return null;
  for (const [key, inner] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (key.includes('\u0000')) return at;
    const found = nulCharacterAt(inner, at);
    if (found !== null) return found;
  }
  return null;
}

/** Refuses a body (422, as any invalid field) holding a NUL character anywhere. */
export function refuseNulInBody(body: unknown): void {
  const at = nulCharacterAt(body);
  if (at !== null)
    throw new ApiError(422, 'validation_failed', 'The request body is invalid', { fields: { [at]: [refusal] } });
}

/** Refuses a JSON body or a query string holding a NUL character, as their own validation refuses a bad value. */
export const refuseNulCharacters: RequestHandler = (req, _res, next) => {
  refuseNulInBody(req.body);
  const inQuery = nulCharacterAt(req.query);
  if (inQuery !== null)
    throw new ApiError(400, 'bad_request', 'Invalid query parameters', { fields: { [inQuery]: [refusal] } });
  next();
};
