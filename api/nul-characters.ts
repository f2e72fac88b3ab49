// PostgreSQL's text and jsonb cannot hold the NUL character (U+0000), which JSON carries as "\u0000": a value with one
// failed the statement writing it, answered 500, and an appointment's start already accepted by Temporal was left
// with no row (its run retrying the write for ever). A request's text is looked at once, before any route reads it.
import type { RequestHandler } from 'express';
import { ApiError } from './errors.js';

const refusal = 'contains the NUL character (U+0000), which cannot be stored';

/**
 * The dotted path of the first string (or object key) in `value` holding a NUL character, or null when none does.
 * Walked with a stack of its own: a body nested thousands deep must not overflow the call stack (a 500).
 */
export function nulCharacterAt(value: unknown): string | null {
  const pending: Array<{ value: unknown; path: string }> = [{ value, path: '' }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    if (typeof next.value === 'string') {
      if (next.value.includes('\u0000')) return next.path || '(body)';
    } else if (typeof next.value === 'object' && next.value !== null) {
      // Reversed onto the stack, so fields are looked at in order and the first one named is the first in the body.
      for (const [key, inner] of Object.entries(next.value).reverse()) {
        const path = next.path ? `${next.path}.${key}` : key;
        if (key.includes('\u0000')) return path;
        pending.push({ value: inner, path });
      }
    }
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
