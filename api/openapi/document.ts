// The OpenAPI 3.1 document, generated from the operations table (and so from the zod schemas the routes parse with).
import { z } from 'zod';
import {
  createDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponseObject,
} from 'zod-openapi';
import { errorBody } from './resources.js';
import { operations, type Auth, type Operation } from './operations.js';

const errorDescriptions: Record<number, string> = {
  400: 'The body or query could not be read (bad_request)',
  401: 'No key, or an unknown one (unauthorized)',
  403: 'Forbidden: not allowed for this key, or a Twilio signature that does not verify',
  404: 'Not found (or another tenant’s)',
  409: 'Conflicts with the current state (conflict, erased, …: see the code and details)',
  413: 'The body is too large',
  415: 'A text body naming no charset whose bytes are not UTF-8, or naming one this service cannot read (unsupported_media_type)',
  422: 'The body failed validation (validation_failed, with details.fields)',
  429: 'Over the per-key rate limit, or too many refused keys from this address; see Retry-After',
  503:
    'Temporal did not answer in time (temporal_unavailable); the message says whether the change may have happened. ' +
    'A call that takes an Idempotency-Key is safe to retry with the same one; any other, read what it changes first',
};

const securityOf: Record<Auth, ZodOpenApiOperationObject['security']> = {
  tenant: [{ tenantKey: [] }],
  operator: [{ operatorKey: [] }],
  twilio: [{ twilioSignature: [] }],
  none: [],
};

const pathParams = (path: string) => [...path.matchAll(/:(\w+)/g)].map((match) => match[1] as string);

/** The error statuses an operation can answer with: from its auth, its inputs, and its own list. */
export function errorStatuses(operation: Operation): number[] {
  const statuses = new Set(operation.errors ?? []);
  if (operation.auth === 'tenant' || operation.auth === 'operator') [401, 429].forEach((s) => statuses.add(s));
  if (operation.auth === 'operator' || operation.auth === 'twilio') statuses.add(403);
  // A JSON body is validated field by field (422); a form's fields are read as they come (400).
  if (operation.body) statuses.add(operation.bodyType ? 400 : 422).add(400);
  if (operation.query) statuses.add(400);
  if (pathParams(operation.path).length) statuses.add(404);
  return [...statuses].sort();
}

/** `/v1/leads/:leadId` as OpenAPI writes it: `/v1/leads/{leadId}`. */
export const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');

function operationObject(operation: Operation): ZodOpenApiOperationObject {
  const params = pathParams(operation.path);
  const responses: Record<`${number}`, ZodOpenApiResponseObject> = {};
  for (const [status, answer] of Object.entries(operation.ok)) {
    responses[status as `${number}`] = {
      description: answer.description,
      ...(answer.schema ? { content: { 'application/json': { schema: answer.schema } } } : {}),
      ...(answer.mediaType ? { content: { [answer.mediaType]: { schema: z.string() } } } : {}),
    };
  }
  for (const status of errorStatuses(operation)) {
    responses[`${status}`] = {
      description: operation.errorNotes?.[status] ?? errorDescriptions[status] ?? 'Error',
      content: { 'application/json': { schema: errorBody } },
    };
  }
  return {
    summary: operation.summary,
    tags: [operation.tag],
    security: securityOf[operation.auth],
    ...(params.length || operation.query || operation.headers
      ? {
          requestParams: {
            ...(params.length ? { path: z.object(Object.fromEntries(params.map((name) => [name, z.string()]))) } : {}),
            ...(operation.query ? { query: operation.query } : {}),
            ...(operation.headers ? { header: operation.headers } : {}),
          },
        }
      : {}),
    ...(operation.body
      ? {
          requestBody: {
            content: {
              [operation.bodyType ?? 'application/json']: { schema: operation.body },
              ...Object.fromEntries(
                Object.entries(operation.otherBodies ?? {}).map(([mediaType, schema]) => [mediaType, { schema }]),
              ),
            },
          },
        }
      : {}),
    responses,
  };
}

function buildDocument() {
  const paths: ZodOpenApiPathsObject = {};
  for (const operation of operations) {
    (paths[openApiPath(operation.path)] ??= {})[operation.method] = operationObject(operation);
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Lead follow-up API',
      version: '1',
      description:
        'Enroll leads in SMS follow-up sequences and book appointments with reminders; every run is a Temporal workflow. ' +
        'Errors always answer `{ "error": { "code", "message", "details" } }`.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        tenantKey: {
          type: 'http',
          scheme: 'bearer',
          description: "A tenant's API key (`npm run admin -- create-tenant`)",
        },
        operatorKey: { type: 'http', scheme: 'bearer', description: 'OPERATOR_API_KEY' },
        twilioSignature: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Twilio-Signature',
          description: 'Signed by Twilio with the auth token',
        },
      },
    },
    paths,
  });
}

let built: ReturnType<typeof buildDocument> | undefined;
/** Built once per process: the schemas do not change while it runs. */
export const openApiDocument = () => (built ??= buildDocument());
