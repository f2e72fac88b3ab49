// Text PostgreSQL cannot store as sent. The NUL character (U+0000, "\u0000" in JSON) fails any statement writing it;
// half of a surrogate pair on its own ("\ud800" in JSON, which JavaScript keeps) fails a jsonb write (an event's data,
// a sequence's steps) and turns into U+FFFD in text. Either answered 500, and an appointment's start already accepted
// by Temporal was left with no row (its run retrying the write for ever). A request's text is looked at once, before
// any route reads it.
import type { RequestHandler } from 'express';
import { ApiError } from './errors.js';

const nulRefusal = 'contains the NUL character (U+0000), which cannot be stored';

/**
 * The text with what PostgreSQL cannot store replaced by U+FFFD, for text that cannot be refused: an SMS a lead sent
 * (Twilio does not send its webhook again), whose words must be read and kept, "STOP\u0000" as "STOP".
 */
export const storableText = (text: string) => text.replaceAll('\u0000', '\uFFFD').replace(/\p{Surrogate}/gu, '\uFFFD');

/** Why `text` cannot be stored, or null when it can. */
function unstorable(text: string): string | null {
  if (text.includes('\u0000')) return nulRefusal;
  // With the u flag a whole pair is one code point, so only a half on its own matches.
  const half = /\p{Surrogate}/u.exec(text)?.[0];
  if (half === undefined) return null;
  const codeUnit = `U+${half.charCodeAt(0).toString(16).toUpperCase()}`;
  return `contains half of a surrogate pair on its own (${codeUnit}), which is not a character and cannot be stored`;
}

/**
 * The dotted path of the first string (or object key) in `value` that cannot be stored, and why; null when none.
 * Walked with a stack of its own: a body nested thousands deep must not overflow the call stack (a 500).
 */
export function unstorableTextAt(value: unknown): { path: string; refusal: string } | null {
  const pending: Array<{ value: unknown; path: string }> = [{ value, path: '' }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    if (typeof next.value === 'string') {
      const refusal = unstorable(next.value);
      if (refusal) return { path: next.path || '(body)', refusal };
    } else if (typeof next.value === 'object' && next.value !== null) {
      // Reversed onto the stack, so fields are looked at in order and the first one named is the first in the body.
      for (const [key, inner] of Object.entries(next.value).reverse()) {
        const path = next.path ? `${next.path}.${key}` : key;
        const refusal = unstorable(key);
        if (refusal) return { path, refusal };
        pending.push({ value: inner, path });
      }
    }
  }
  return null;
}

/** Refuses a body (422, as any invalid field) holding text that cannot be stored anywhere. */
export function refuseUnstorableTextInBody(body: unknown): void {
  const at = unstorableTextAt(body);
  if (at)
    throw new ApiError(422, 'validation_failed', 'The request body is invalid', {
      fields: { [at.path]: [at.refusal] },
    });
}

/** Refuses a JSON body or a query string holding text that cannot be stored, as their own validation refuses a bad value. */
export const refuseUnstorableText: RequestHandler = (req, _res, next) => {
  refuseUnstorableTextInBody(req.body);
  const inQuery = unstorableTextAt(req.query);
  if (inQuery)
    throw new ApiError(400, 'bad_request', 'Invalid query parameters', {
      fields: { [inQuery.path]: [inQuery.refusal] },
    });
  next();
};
