// What the OpenAPI document says of one operation: the zod schemas its handler parses and answers with.
import type { z } from 'zod';

/** Who may call: a tenant's API key, the operator key, Twilio (signed), or anyone. */
export type Auth = 'tenant' | 'operator' | 'twilio' | 'none';
export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface Operation {
  method: Method;
  /** As Express routes it, with `:param`s. */
  path: string;
  summary: string;
  tag: string;
  auth: Auth;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The body's media type; JSON unless said. */
  bodyType?: 'application/x-www-form-urlencoded';
  /** Success answers by status: a schema for JSON, or a media type for anything else. */
  ok: Record<number, { description: string; schema?: z.ZodType; mediaType?: string }>;
  /** Error statuses beyond those the auth, body and path parameters imply. */
  errors?: number[];
}

export const json = (schema: z.ZodType, description: string) => ({ schema, description });
/** Updates and starts wait for Temporal; when it does not answer the caller hears 503 temporal_unavailable. */
export const viaTemporal = [503];
