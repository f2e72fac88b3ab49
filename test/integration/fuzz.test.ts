// Property-based fuzzing of every API and webhook endpoint: whatever arrives, alone or racing other requests, no 5xx,
// every refusal in the one error shape, and nothing stored from a rejected request. The counts per endpoint are
// printed (docs/reliability.md).
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import request from 'supertest';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { inboundWebhookPath, publicUrl, statusWebhookPath } from '../../common/config.js';
import { enrollmentViolations } from '../support/enrollment-invariants.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { startTestStack, testAuthToken, testPublicBaseUrl, type TestStack } from '../support/stack.js';

let stack: TestStack;
let auth: Record<string, string>;
let tenantId: string;
let ids: { lead: string; sequence: string; enrollment: string };
const tried: Record<string, { requests: number; rejected: number }> = {};

beforeAll(async () => {
  stack = await startTestStack();
  const tenant = await createTenant(stack.db, { ...anytimeSettings, senders: { create: { value: '+15551230000' } } });
  ({ auth } = tenant);
  tenantId = tenant.tenant.id;
  const lead = await request(stack.app).post('/v1/leads').set(auth).send({ phone: '07700 900555', firstName: 'Ada' });
  const sequence = await request(stack.app)
    .post('/v1/sequences')
    .set(auth)
    .send({ name: 'fuzz', steps: [{ delaySeconds: 3600, template: 'x' }] });
  const enrollment = await request(stack.app)
    .post('/v1/enrollments')
    .set(auth)
    .send({ leadId: lead.body.id, sequenceId: sequence.body.id });
  ids = { lead: lead.body.id, sequence: sequence.body.id, enrollment: enrollment.body.id };
});
afterAll(async () => {
  process.stdout.write(`fuzz: ${JSON.stringify(tried)}\n`);
  await request(stack.app).post(`/v1/enrollments/${ids.enrollment}/cancel`).set(auth);
  await stack?.stop();
});

/** Rows a rejected request must not have added. */
async function footprint() {
  const where = { tenantId };
  const [leads, sequences, enrollments, messages, optOuts, consent] = await Promise.all([
    stack.db.lead.count({ where }),
    stack.db.sequenceDefinition.count({ where }),
    stack.db.enrollment.count({ where }),
    stack.db.message.count({ where }),
    stack.db.optOut.count({ where }),
    stack.db.consentEvent.count({ where }),
  ]);
  return { leads, sequences, enrollments, messages, optOuts, consent };
}

const nearMissValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);
const fields = (names: string[]) =>
  fc.dictionary(fc.constantFrom(...names, 'extra', '__proto__', 'constructor'), nearMissValue, {
    maxKeys: names.length + 1,
  });
/** Sent as raw text with a JSON content type: valid JSON of any shape, or not JSON at all. */
const anyBody = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value)),
  fc.string(),
  fc.constant(''),
);

/** Counts the answer and checks it: no 5xx, and a refusal in the one error shape without internals. */
function expectAnswered(name: string, response: request.Response): void {
  const entry = (tried[name] ??= { requests: 0, rejected: 0 });
  entry.requests += 1;
  expect(response.status, `${name} answered ${response.status}: ${response.text.slice(0, 300)}`).toBeLessThan(500);
  if (response.status >= 400) {
    entry.rejected += 1;
    if (response.type === 'application/json')
      expect(response.body.error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
    expect(response.text).not.toMatch(/at .+\.(ts|js):\d+|prisma|SELECT|INSERT/i);
  }
}

async function check(name: string, send: () => Promise<request.Response>): Promise<void> {
  const before = await footprint();
  const response = await send();
  expectAnswered(name, response);
  if (response.status >= 400) expect(await footprint()).toEqual(before);
}

/** CI runs a short pass; FUZZ_RUNS=500 npx vitest run test/integration/fuzz.test.ts is the documented long one. */
const runs = { numRuns: Number(process.env.FUZZ_RUNS ?? 40) };
/** The routes that take JSON: a name, the method, the path (read when sending: the ids exist by then), the fields. */
const jsonEndpoints: [string, 'post' | 'patch', () => string, string[]][] = [
  ['POST /v1/leads', 'post', () => '/v1/leads', ['phone', 'firstName', 'lastName', 'timeZone']],
  ['PATCH /v1/leads/:id', 'patch', () => `/v1/leads/${ids.lead}`, ['firstName', 'lastName', 'timeZone']],
  ['POST /v1/sequences', 'post', () => '/v1/sequences', ['name', 'steps']],
  ['POST /v1/enrollments', 'post', () => '/v1/enrollments', ['leadId', 'sequenceId']],
  ['POST /v1/enrollments/batch', 'post', () => '/v1/enrollments/batch', ['sequenceId', 'dryRun', 'leads']],
  ['POST /v1/enrollments/:id/skip', 'post', () => `/v1/enrollments/${ids.enrollment}/skip`, ['step']],
  [
    'PATCH /v1/settings',
    'patch',
    () => '/v1/settings',
    ['windowStart', 'windowEnd', 'maxPerDay', 'senders', 'defaultRegion'],
  ],
  ['POST /v1/opt-outs', 'post', () => '/v1/opt-outs', ['phone', 'source', 'note']],
];

describe('fuzzing: no 5xx, one error shape, nothing stored from a rejection', () => {
  it.each(jsonEndpoints)('%s', async (name, method, path, names) => {
    const api = request(stack.app);
    const send = (body: unknown) =>
      api[method](path())
        .set(auth)
        .type('json')
        .send(typeof body === 'string' ? body : JSON.stringify(body));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fields(names), anyBody), (body) => check(name, () => send(body))),
      runs,
    );
  });

  it('path and query parameters of the read and operation routes', async () => {
    const segment = fc.oneof(
      fc.uuid(),
      fc.string({ maxLength: 40 }).map(encodeURIComponent),
      fc.constant('%00'),
      fc.constant('..'),
    );
    await fc.assert(
      fc.asyncProperty(
        segment,
        fc.constantFrom('leads', 'sequences', 'enrollments'),
        fc.constantFrom('', '/pause', '/resume', '/cancel'),
        async (id, resource, action) => {
          const path = `/v1/${resource}/${id}${resource === 'enrollments' ? action : ''}`;
          await check(`${action ? 'POST' : 'GET'} /v1/${resource}/:id${action}`, () =>
            action ? request(stack.app).post(path).set(auth) : request(stack.app).get(path).set(auth),
          );
        },
      ),
      runs,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.constantFrom('limit', 'before', 'leadId', 'status', 'since', 'x'),
          fc.string({ maxLength: 30 }),
        ),
        fc.constantFrom('/v1/leads', '/v1/enrollments', '/v1/opt-outs', '/v1/reports/messages'),
        async (query, path) => {
          await check(`GET ${path}?…`, () => request(stack.app).get(path).query(query).set(auth));
        },
      ),
      runs,
    );
  });

  it('CSV batch uploads', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), fc.boolean(), async (csv, dryRun) => {
        await check('POST /v1/enrollments/batch (CSV)', () =>
          request(stack.app)
            .post(`/v1/enrollments/batch?sequenceId=${ids.sequence}&dryRun=${dryRun}`)
            .set(auth)
            .set('Content-Type', 'text/csv')
            .send(csv),
        );
      }),
      runs,
    );
  });

  it('well-formed, signed inbound messages with arbitrary bodies reach the keyword and consent code', async () => {
    const form = fc.record({
      MessageSid: fc.stringMatching(/^SM[0-9a-f]{32}$/),
      From: fc.oneof(fc.constantFrom('+447700900555', '+447700900556'), fc.string({ maxLength: 20 })),
      To: fc.constantFrom('+15551230000', '+15550000000'),
      Body: fc.oneof(
        fc.constantFrom('STOP', ' stop. ', 'Stop all', 'START', 'help', 'INFO?', 'opt out'),
        fc.string({ maxLength: 200 }),
        fc.string({ unit: 'grapheme', maxLength: 50 }),
      ),
    });
    await fc.assert(
      fc.asyncProperty(form, async (params) => {
        const signature = twilio.getExpectedTwilioSignature(
          testAuthToken,
          publicUrl(testPublicBaseUrl, inboundWebhookPath),
          params,
        );
        await check(`POST ${inboundWebhookPath} (signed, well-formed)`, () =>
          request(stack.app).post(inboundWebhookPath).type('form').send(params).set('X-Twilio-Signature', signature),
        );
      }),
      runs,
    );
  });

  it.each([
    ['inbound', inboundWebhookPath, ['MessageSid', 'From', 'To', 'Body', 'MessagingServiceSid']],
    ['status', statusWebhookPath, ['MessageSid', 'MessageStatus', 'ErrorCode']],
  ])('webhook %s, signed and unsigned', async (name, path, names) => {
    const params = fc.dictionary(fc.constantFrom(...names, 'Extra'), fc.string({ maxLength: 40 }));
    await fc.assert(
      fc.asyncProperty(params, fc.boolean(), async (form, signed) => {
        const call = request(stack.app).post(path).type('form').send(form);
        await check(`POST ${path}${signed ? ' (signed)' : ''}`, () =>
          signed
            ? call.set(
                'X-Twilio-Signature',
                twilio.getExpectedTwilioSignature(testAuthToken, publicUrl(testPublicBaseUrl, path), form),
              )
            : call,
        );
      }),
      runs,
    );
  });
});

/**
 * Requests that contend for one thing (a lead's phone, a sequence name, an Idempotency-Key, an opt-out, a running
 * enrollment) fired at once: each answers 2xx or 4xx in the one error shape, and afterwards the rows and the
 * workflows agree. Kept to a few runs: each one starts workflows on the dev server.
 */
describe('concurrent fuzzing: racing requests answer 2xx/4xx and leave consistent state', () => {
  const racingName = 'racing';
  const kinds = ['lead', 'sequence', 'enroll', 'enroll-without-key', 'opt-out', 'opt-in', 'cancel'] as const;
  type Command = [kind: (typeof kinds)[number], leadIndex: number, pick: number];
  const commands = fc.array(fc.tuple(fc.constantFrom(...kinds), fc.nat(1), fc.nat()), { minLength: 2, maxLength: 6 });
  const concurrentRuns = { numRuns: Number(process.env.FUZZ_CONCURRENT_RUNS ?? 15) };

  it('leads, sequences, enrollments with one Idempotency-Key, opt-outs and cancels', async () => {
    // Without the per-key limit (tested in admin-and-isolation): shrinking a failure replays hundreds of requests a
    // minute, and once they are refused with 429 every candidate fails the same way and hides the first failure.
    const app = createApp({ ...stack.deps, requestsPerMinute: Number.MAX_SAFE_INTEGER });
    const own = await createTenant(stack.db, anytimeSettings);
    const tenant = own.tenant.id;
    const sequence = await request(app)
      .post('/v1/sequences')
      .set(own.auth)
      .send({ name: 'racing-enrollments', steps: [{ delaySeconds: 3600, template: 'later' }] });
    const enrolled: string[] = [];
    const newLead = async () => {
      const phone = randomUkMobile();
      const lead = await request(app).post('/v1/leads').set(own.auth).send({ phone: phone.national });
      // 200 when a random number repeats one of the tenant's: that lead, as it is.
      expect([200, 201], JSON.stringify(lead.body)).toContain(lead.status);
      return { id: lead.body.id as string, phone: phone.e164 };
    };
    let round = 0;

    await fc.assert(
      fc.asyncProperty(commands, async (batch: Command[]) => {
        round += 1;
        const leads = [await newLead(), await newLead()] as const;
        const key = `race-${round}`;
        const contestedPhone = randomUkMobile().national;
        const send = ([kind, leadIndex, pick]: Command): [string, request.Test] => {
          const api = request(app);
          const lead = leads[leadIndex as 0 | 1];
          const enrollment = { leadId: lead.id, sequenceId: sequence.body.id };
          if (kind === 'lead')
            return ['POST /v1/leads', api.post('/v1/leads').set(own.auth).send({ phone: contestedPhone })];
          if (kind === 'sequence')
            return [
              'POST /v1/sequences',
              api
                .post('/v1/sequences')
                .set(own.auth)
                .send({ name: racingName, steps: [{ delaySeconds: pick % 100, template: 'v' }] }),
            ];
          if (kind === 'enroll')
            return [
              'POST /v1/enrollments (one key)',
              api.post('/v1/enrollments').set(own.auth).set('Idempotency-Key', key).send(enrollment),
            ];
          if (kind === 'enroll-without-key')
            return ['POST /v1/enrollments', api.post('/v1/enrollments').set(own.auth).send(enrollment)];
          if (kind === 'opt-out')
            return ['POST /v1/opt-outs', api.post('/v1/opt-outs').set(own.auth).send({ phone: leads[0].phone })];
          if (kind === 'opt-in')
            return [
              'DELETE /v1/opt-outs/:phone',
              api
                .delete(`/v1/opt-outs/${encodeURIComponent(leads[0].phone)}`)
                .set(own.auth)
                .send({ consentSource: 'fuzz' }),
            ];
          const id = enrolled.length ? enrolled[pick % enrolled.length] : randomUUID();
          return ['POST /v1/enrollments/:id/cancel', api.post(`/v1/enrollments/${id}/cancel`).set(own.auth)];
        };
        const sent = batch.map(send);
        const answers = await Promise.all(sent.map(([, call]) => call));
        answers.forEach((answer, i) => expectAnswered(`concurrent ${sent[i]?.[0]}`, answer));
        answers.forEach(
          (answer, i) => batch[i]?.[0].startsWith('enroll') && answer.status === 202 && enrolled.push(answer.body.id),
        );

        const versions = await stack.db.sequenceDefinition.findMany({
          where: { tenantId: tenant, name: racingName },
          orderBy: { version: 'asc' },
          select: { version: true },
        });
        expect(versions.map(({ version }) => version)).toEqual(versions.map((_, i) => i + 1));
        const leadIds = leads.map((lead) => lead.id);
        expect(await enrollmentViolations(stack, tenant, leadIds)).toEqual([]);
      }),
      concurrentRuns,
    );

    const running = await stack.db.enrollment.findMany({
      where: { tenantId: tenant, status: 'running' },
      select: { workflowId: true },
    });
    await Promise.all(
      running.map(({ workflowId }) =>
        stack.client.workflow
          .getHandle(workflowId)
          .terminate('fuzz cleanup')
          .catch(() => undefined),
      ),
    );
  });
});
