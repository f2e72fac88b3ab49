import type { ErrorRequestHandler, RequestHandler } from 'express';
import { type z } from 'zod';
import { loggedUrl } from './logged-url.js';

export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'rate_limited'
  | 'not_found'
  | 'conflict'
  | 'erased'
  | 'sender_taken'
  | 'shared_sender'
  | 'senders_operator_only'
  | 'idempotency_key_reused'
  | 'validation_failed'
  | 'unsafe_url'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'temporal_unavailable'
  | 'internal';

/** The one error shape every endpoint answers with: `{ "error": { "code", "message", "details" } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ApiError';
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);

/** An erased lead keeps only its ID and opt-out: nothing may give it personal data or a conversation again. */
export const leadErased = () =>
  new ApiError(409, 'erased', 'The lead was erased on request and cannot be changed, booked or enrolled');

/** zod's field errors, keyed by the dotted path of the field. */
export function fieldErrors(error: z.ZodError): Record<string, string[]> {
  const fields: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const path = issue.path.join('.') || '(body)';
    (fields[path] ??= []).push(issue.message);
  }
  return fields;
}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success)
    throw new ApiError(422, 'validation_failed', 'The request body is invalid', { fields: fieldErrors(parsed.error) });
  return parsed.data;
}

export function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  const parsed = schema.safeParse(query);
  if (!parsed.success)
    throw new ApiError(400, 'bad_request', 'Invalid query parameters', { fields: fieldErrors(parsed.error) });
  return parsed.data;
}

/** The path as the request log shows it: a phone number typed into it (a lookup of one opt-out) is masked. */
export const unknownRoute: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'not_found', `No route for ${req.method} ${loggedUrl(req.path)}`));
};

/** A text body naming no charset whose bytes are not UTF-8. */
export const textNotInCharset = 'entity.charset.mismatch';

/** Errors from body parsing carry a status; anything else is a 500 whose details stay in the log, not the answer. */
export const errorHandler: ErrorRequestHandler = (error: unknown, req, res, _next) => {
  const apiError = toApiError(error);
  if (apiError.status >= 500) req.log.error({ err: error }, 'request failed');
  else req.log.info({ code: apiError.code }, apiError.message);
  res.status(apiError.status).json({
    error: {
      code: apiError.code,
      message: apiError.message,
      ...(apiError.details === undefined ? {} : { details: apiError.details }),
    },
  });
};

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const status = (error as { status?: unknown; type?: unknown }).status;
  const type = (error as { type?: unknown }).type;
  if (type === 'entity.too.large') return new ApiError(413, 'payload_too_large', 'The request body is too large');
  if (type === 'parameters.too.many') return new ApiError(413, 'payload_too_large', 'The form has too many fields');
  if (type === 'entity.parse.failed') return new ApiError(400, 'bad_request', 'The request body is not valid JSON');
  if (type === 'charset.unsupported' || type === 'encoding.unsupported' || type === textNotInCharset)
    return new ApiError(415, 'unsupported_media_type', (error as Error).message);
  // A file the dashboard's assets do not have (serve-static).
  if (status === 404) return new ApiError(404, 'not_found', 'No such file');
  if (typeof status === 'number' && status >= 400 && status < 500)
    return new ApiError(400, 'bad_request', 'The request could not be read');
  return new ApiError(
    500,
    'internal',
    'Something went wrong on our side; the request ID in X-Request-Id helps us find it',
  );
}
