// What the OpenAPI document says of one operation: the zod schemas its handler parses and answers with.
import type { z } from 'zod';

/** Who may call: a tenant's API key, the operator key, Twilio (signed), or anyone. */
export type Auth = 'tenant' | 'operator' | 'twilio' | 'none';
export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** One success answer: a schema for JSON, or a media type for anything else. */
export interface Answer {
  description: string;
  schema?: z.ZodType;
  mediaType?: string;
}

export interface Operation {
  method: Method;
  /** As Express routes it, with `:param`s. */
  path: string;
  summary: string;
  tag: string;
  auth: Auth;
  query?: z.ZodObject;
  /** Request headers the handler reads (Idempotency-Key). */
  headers?: z.ZodObject;
  body?: z.ZodType;
  /** The body's media type; JSON unless said. */
  bodyType?: 'application/x-www-form-urlencoded';
  /** Other media types the same route takes, with their schemas (a CSV upload). */
  otherBodies?: Record<string, z.ZodType>;
  /** Success answers by status. */
  ok: Record<number, Answer>;
  /** Error statuses beyond those the auth, body and path parameters imply. */
  errors?: number[];
  /** What an error status means here, where it means more than it does everywhere (errorDescriptions). */
  errorNotes?: Record<number, string>;
}

export const json = (schema: z.ZodType, description: string): Answer => ({ schema, description });

/** What an operation says beyond its method, path and summary: its answers and inputs. */
type Spec = Pick<Operation, 'ok' | 'query' | 'headers' | 'body' | 'bodyType' | 'otherBodies' | 'errors' | 'errorNotes'>;

/**
 * The operations of one area of the API, under one tag and for one kind of caller: each operation states only its
 * method, path, summary, answers and inputs, and the shapes that recur (`read`, `viaWorkflow`) less still.
 */
export function area(tag: string, auth: Auth) {
  const operation = (method: Method, path: string, summary: string, spec: Spec): Operation => ({
    method,
    path,
    summary,
    tag,
    auth,
    ...spec,
  });
  return {
    operation,
    /** A GET answering 200: one thing by its id, or a list (whose query picks the page). */
    read: (path: string, summary: string, answer: Answer, query?: z.ZodObject) =>
      operation('get', path, summary, { ok: { 200: answer }, query }),
    /**
     * A POST that starts a workflow or updates one: the current state may refuse it (409), and when Temporal does not
     * answer in time the caller hears 503 temporal_unavailable.
     */
    viaWorkflow: (path: string, summary: string, ok: Operation['ok'], body?: z.ZodType) =>
      operation('post', path, summary, { ok, body, errors: [409, 503] }),
  };
}
