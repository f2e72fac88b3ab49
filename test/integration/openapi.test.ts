// The OpenAPI document against the app that serves it: valid OpenAPI 3.1, every route the app serves documented (and
// nothing documented that it does not serve), each with its auth and error answers, and real answers of the running
// stack checked against the documented schemas.
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Express } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { openApiPath } from '../../api/openapi/document.js';
import { operations } from '../../api/openapi/operations.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { stackForFile, testAppDeps } from '../support/stack.js';
import { until } from '../support/wait.js';

const stack = stackForFile();

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  rawPath?: string;
}

/** Every method and path the Express app routes, read from its router stack (mount paths included). */
function servedRoutes(app: Express): string[] {
  const found: string[] = [];
  const walk = (layers: Layer[], prefix: string) => {
    for (const layer of layers) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) found.push(`${method} ${prefix}${layer.route.path}`);
      } else if (layer.handle.stack) {
        const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return found.sort();
}

const documented = () => operations.map((operation) => `${operation.method} ${operation.path}`).sort();

async function fetchDocument() {
  const answer = await request(stack.app).get('/openapi.json');
  expect(answer.status).toBe(200);
  return answer.body as {
    paths: Record<string, Record<string, { security: unknown[]; responses: Record<string, unknown> }>>;
  };
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1', async () => {
    const result = await new Validator().validate(await fetchDocument());
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("a booking's 503 says the appointment may have been booked, and how to find out, not that a retry is safe", async () => {
    const responses = (await fetchDocument()).paths['/v1/appointments']?.post?.responses ?? {};
    const booking = (responses['503'] as { description: string }).description;
    expect(booking).toMatch(/may have been booked/);
    expect(booking).toContain('details.appointmentId');
    expect(booking).not.toMatch(/safe to retry/);
    expect(booking).toMatch(/live=true/);
    const enrolling = (await fetchDocument()).paths['/v1/enrollments']?.post?.responses['503'];
    expect((enrolling as { description: string }).description).toMatch(/Idempotency-Key is safe to retry/);
  });

  it('lists every route the app serves, and only those', async () => {
    expect(documented()).toEqual(servedRoutes(stack.app));
    const document = await fetchDocument();
    for (const operation of operations)
      expect(document.paths[openApiPath(operation.path)]?.[operation.method]).toBeDefined();
  });

  it("says each route's auth as the app enforces it, with the error answers that go with it", async () => {
    const document = await fetchDocument();
    for (const operation of operations) {
      const documentedOperation = document.paths[openApiPath(operation.path)]?.[operation.method];
      const path = operation.path.replace(/:(\w+)/g, '00000000-0000-4000-8000-000000000000');
      const anonymous = await request(stack.app)[operation.method](path).send({});
      const label = `${operation.method} ${operation.path}`;
      if (operation.auth === 'tenant' || operation.auth === 'operator') {
        expect([401, 403], label).toContain(anonymous.status);
        expect(documentedOperation?.security, label).not.toEqual([]);
        expect(Object.keys(documentedOperation?.responses ?? {}), label).toContain(String(anonymous.status));
      } else if (operation.auth === 'twilio') {
        expect(anonymous.status, label).toBe(403);
        expect(Object.keys(documentedOperation?.responses ?? {}), label).toContain('403');
      } else {
        expect(Object.keys(documentedOperation?.responses ?? {}), label).toContain(String(anonymous.status));
        expect(documentedOperation?.security, label).toEqual([]);
      }
      if (operation.body && !operation.bodyType)
        expect(Object.keys(documentedOperation?.responses ?? {}), label).toContain('422');
    }
  });
});

describe('the inputs it documents', () => {
  interface DocumentedInputs {
    parameters?: { in: string; name: string; schema: { pattern?: string } }[];
    requestBody?: { content: Record<string, unknown> };
  }
  const inputsOf = async (method: string, route: string) =>
    (await fetchDocument()).paths[openApiPath(route)]?.[method] as unknown as DocumentedInputs;

  it.each(['/v1/enrollments', '/v1/appointments'])(
    'POST %s: the Idempotency-Key header, whose pattern the route enforces (400)',
    async (route) => {
      const { auth } = await createTenant(stack.db, anytimeSettings);
      const header = (await inputsOf('post', route)).parameters?.find(
        (parameter) => parameter.in === 'header' && parameter.name === 'Idempotency-Key',
      );
      expect(header?.schema.pattern).toBeDefined();
      const pattern = new RegExp(header?.schema.pattern ?? '');
      for (const key of ['has space', 'x'.repeat(201)]) {
        expect(pattern.test(key), key).toBe(false);
        const answer = await request(stack.app).post(route).set(auth).set('Idempotency-Key', key).send({});
        expect(answer.status, key).toBe(400);
      }
      expect(pattern.test('crm:lead-42.attempt_1')).toBe(true);
    },
  );

  it('POST /v1/enrollments/batch: JSON or a CSV upload, and a CSV dry run answers as documented', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const content = (await inputsOf('post', '/v1/enrollments/batch')).requestBody?.content ?? {};
    expect(Object.keys(content).sort()).toEqual(['application/json', 'text/csv']);
    const sequence = await request(stack.app)
      .post('/v1/sequences')
      .set(auth)
      .send({ name: 'csv', steps: [{ delaySeconds: 0, template: 'Hi' }] });
    const answer = await request(stack.app)
      .post(`/v1/enrollments/batch?sequenceId=${sequence.body.id}&dryRun=true`)
      .set(auth)
      .set('Content-Type', 'text/csv')
      .send(`phone,firstName\n${randomUkMobile().e164},Ada\nnot a phone,Bob\n`);
    expect(answer.status).toBe(200);
    expect(answer.body.results.map((row: { outcome: string }) => row.outcome)).toEqual(['ok', 'invalid_phone']);
  });
});

describe('real answers match the documented schemas', () => {
  it('lists the refusals its inputs do not imply: an unknown event type, lead, sequence or phone', async () => {
    const document = await fetchDocument();
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const api = () => request(stack.app);
    const nobody = '00000000-0000-4000-8000-000000000000';
    const answers: [string, string, request.Response, number][] = [
      ['get', '/v1/events', await api().get('/v1/events?type=nope').set(auth), 422],
      [
        'post',
        '/v1/enrollments',
        await api().post('/v1/enrollments').set(auth).send({ leadId: nobody, sequenceId: nobody }),
        404,
      ],
      [
        'post',
        '/v1/enrollments/batch',
        await api()
          .post('/v1/enrollments/batch')
          .set(auth)
          .send({ sequenceId: nobody, leads: [{ phone: '07700900123' }] }),
        404,
      ],
      ['get', '/v1/opt-outs/:phone/consent', await api().get('/v1/opt-outs/abc/consent').set(auth), 422],
    ];
    for (const [method, route, answer, status] of answers) {
      expect(answer.status, `${method} ${route}`).toBe(status);
      const responses = document.paths[openApiPath(route)]?.[method]?.responses ?? {};
      expect(Object.keys(responses), `${method} ${route}`).toContain(String(status));
    }
  });

  it('a tenant’s day: leads, a sequence, an enrollment, an appointment, opt-outs, events, webhooks, settings, errors', async () => {
    const document = await fetchDocument();
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema(document, 'openapi');
    const checked: string[] = [];
    /** Checks one answer against the schema the document gives for its route and status. */
    const conforms = (method: string, route: string, answer: request.Response) => {
      const pointer = ['paths', openApiPath(route), method, 'responses', String(answer.status)]
        .map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1'))
        .join('/');
      const responses = document.paths[openApiPath(route)]?.[method]?.responses ?? {};
      expect(Object.keys(responses), `${method} ${route} answered ${answer.status}`).toContain(String(answer.status));
      checked.push(`${method} ${route} ${answer.status}`);
      if (answer.status === 204) return answer;
      const validate = ajv.compile({ $ref: `openapi#/${pointer}/content/application~1json/schema` });
      expect(validate(answer.body) ? [] : validate.errors, `${method} ${route} ${answer.status}`).toEqual([]);
      return answer;
    };

    const { auth } = await createTenant(stack.db, { ...anytimeSettings, sendCancellationNotice: true });
    const api = () => request(stack.app);
    // Webhook endpoints on loopback, as in development: a name that resolves nowhere here would be refused.
    const devApp = createApp(testAppDeps(stack.db, stack.client, stack.taskQueue, { allowPrivateWebhookUrls: true }));
    const phone = randomUkMobile();
    const lead = conforms(
      'post',
      '/v1/leads',
      await api().post('/v1/leads').set(auth).send({ phone: phone.national, firstName: 'Ada' }),
    );
    const leadId = lead.body.id as string;
    conforms('post', '/v1/leads', await api().post('/v1/leads').set(auth).send({ phone: phone.e164 }));
    conforms('post', '/v1/leads', await api().post('/v1/leads').set(auth).send({ phone: 'not a phone' }));
    conforms('get', '/v1/leads', await api().get('/v1/leads').set(auth));
    conforms('get', '/v1/leads/:leadId', await api().get(`/v1/leads/${leadId}`).set(auth));
    conforms(
      'patch',
      '/v1/leads/:leadId',
      await api().patch(`/v1/leads/${leadId}`).set(auth).send({ lastName: 'Lovelace' }),
    );
    const sequence = conforms(
      'post',
      '/v1/sequences',
      await api()
        .post('/v1/sequences')
        .set(auth)
        .send({
          name: 'openapi',
          steps: [
            { delaySeconds: 0, template: 'Hi {{firstName}}' },
            { delaySeconds: 3600, template: 'Still there?' },
            { delaySeconds: 3600, template: 'Last one' },
          ],
        }),
    );
    conforms('get', '/v1/sequences/:sequenceId', await api().get(`/v1/sequences/${sequence.body.id}`).set(auth));
    const enrollment = conforms(
      'post',
      '/v1/enrollments',
      await api().post('/v1/enrollments').set(auth).send({ leadId, sequenceId: sequence.body.id }),
    );
    conforms(
      'post',
      '/v1/enrollments',
      await api().post('/v1/enrollments').set(auth).send({ leadId, sequenceId: sequence.body.id }),
    );
    await until(() => stack.fake.createCallsTo(phone.e164) === 1, 'the first step');
    conforms('get', '/v1/enrollments', await api().get('/v1/enrollments').set(auth));
    conforms(
      'get',
      '/v1/enrollments/:enrollmentId',
      await api().get(`/v1/enrollments/${enrollment.body.id}`).set(auth),
    );
    conforms(
      'post',
      '/v1/enrollments/:enrollmentId/pause',
      await api().post(`/v1/enrollments/${enrollment.body.id}/pause`).set(auth),
    );
    conforms(
      'post',
      '/v1/enrollments/:enrollmentId/resume',
      await api().post(`/v1/enrollments/${enrollment.body.id}/resume`).set(auth),
    );
    conforms(
      'post',
      '/v1/enrollments/:enrollmentId/skip',
      await api().post(`/v1/enrollments/${enrollment.body.id}/skip`).set(auth).send({ step: 2 }),
    );
    conforms(
      'post',
      '/v1/enrollments/:enrollmentId/cancel',
      await api().post(`/v1/enrollments/${enrollment.body.id}/cancel`).set(auth),
    );
    conforms('get', '/v1/leads/:leadId/messages', await api().get(`/v1/leads/${leadId}/messages`).set(auth));
    conforms(
      'post',
      '/v1/enrollments/batch',
      await api()
        .post('/v1/enrollments/batch')
        .set(auth)
        .send({ sequenceId: sequence.body.id, dryRun: true, leads: [{ phone: randomUkMobile().e164 }] }),
    );

    const startsAt = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const appointment = conforms(
      'post',
      '/v1/appointments',
      await api().post('/v1/appointments').set(auth).send({ leadId, startsAt }),
    );
    conforms('get', '/v1/appointments', await api().get('/v1/appointments').set(auth));
    conforms(
      'get',
      '/v1/appointments/:appointmentId',
      await api().get(`/v1/appointments/${appointment.body.id}`).set(auth),
    );
    const later = new Date(Date.now() + 3 * 86_400_000).toISOString();
    conforms(
      'post',
      '/v1/appointments/:appointmentId/reschedule',
      await api().post(`/v1/appointments/${appointment.body.id}/reschedule`).set(auth).send({ startsAt: later }),
    );
    conforms(
      'post',
      '/v1/appointments/:appointmentId/cancel',
      await api().post(`/v1/appointments/${appointment.body.id}/cancel`).set(auth).send({}),
    );

    const other = randomUkMobile().e164;
    conforms('post', '/v1/opt-outs', await api().post('/v1/opt-outs').set(auth).send({ phone: other }));
    conforms('get', '/v1/opt-outs', await api().get('/v1/opt-outs').set(auth));
    conforms(
      'get',
      '/v1/opt-outs/:phone/consent',
      await api()
        .get(`/v1/opt-outs/${encodeURIComponent(other)}/consent`)
        .set(auth),
    );
    conforms(
      'delete',
      '/v1/opt-outs/:phone',
      await api()
        .delete(`/v1/opt-outs/${encodeURIComponent(other)}`)
        .set(auth)
        .send({ consentSource: 'web form' }),
    );

    conforms('get', '/v1/events', await api().get('/v1/events').set(auth));
    conforms('get', '/v1/analytics/overview', await api().get('/v1/analytics/overview').set(auth));
    conforms(
      'get',
      '/v1/analytics/sequences/:sequenceId',
      await api().get(`/v1/analytics/sequences/${sequence.body.id}`).set(auth),
    );
    conforms('get', '/v1/analytics/overview', await api().get('/v1/analytics/overview?from=2026-13-01').set(auth));
    const endpoint = conforms(
      'post',
      '/v1/webhook-endpoints',
      await request(devApp).post('/v1/webhook-endpoints').set(auth).send({ url: 'http://127.0.0.1:9/hooks' }),
    );
    const endpointPath = `/v1/webhook-endpoints/${endpoint.body.id}`;
    conforms('get', '/v1/webhook-endpoints', await api().get('/v1/webhook-endpoints').set(auth));
    conforms('get', '/v1/webhook-endpoints/:id', await api().get(endpointPath).set(auth));
    conforms(
      'patch',
      '/v1/webhook-endpoints/:id',
      await api().patch(endpointPath).set(auth).send({ description: 'CRM' }),
    );
    conforms('post', '/v1/webhook-endpoints/:id/test', await api().post(`${endpointPath}/test`).set(auth));
    conforms('get', '/v1/webhook-endpoints/:id/deliveries', await api().get(`${endpointPath}/deliveries`).set(auth));
    conforms(
      'post',
      '/v1/webhook-endpoints/:id/rotate-secret',
      await api().post(`${endpointPath}/rotate-secret`).set(auth),
    );
    conforms('delete', '/v1/webhook-endpoints/:id', await api().delete(endpointPath).set(auth));

    conforms('get', '/v1/settings', await api().get('/v1/settings').set(auth));
    conforms('patch', '/v1/settings', await api().patch('/v1/settings').set(auth).send({ maxPerDay: 3 }));
    conforms('patch', '/v1/settings', await api().patch('/v1/settings').set(auth).send({ maxPerDay: 'three' }));
    conforms('get', '/v1/reports/messages', await api().get('/v1/reports/messages').set(auth));
    conforms('get', '/v1/sending', await api().get('/v1/sending').set(auth));
    conforms(
      'post',
      '/v1/sending/pause',
      await api().post('/v1/sending/pause').set(auth).send({ reason: 'checking the contract' }),
    );
    conforms('post', '/v1/sending/resume', await api().post('/v1/sending/resume').set(auth).send({}));
    conforms('get', '/health', await api().get('/health'));
    conforms('get', '/v1/leads/:leadId', await api().get('/v1/leads/00000000-0000-4000-8000-000000000000').set(auth));
    conforms('delete', '/v1/leads/:leadId', await api().delete(`/v1/leads/${leadId}`).set(auth));
    // The erasure's opt-out keeps no phone: the document says so (before: a string, which this answer broke).
    const afterErasure = conforms('get', '/v1/opt-outs', await api().get('/v1/opt-outs').set(auth));
    expect(afterErasure.body.items).toContainEqual(expect.objectContaining({ source: 'erasure', phone: null }));
    conforms('get', '/v1/leads', await api().get('/v1/leads'));
    // Each answer with the status it should have: a documented error in the wrong place fails here.
    expect(checked).toEqual([
      'post /v1/leads 201',
      'post /v1/leads 200',
      'post /v1/leads 422',
      'get /v1/leads 200',
      'get /v1/leads/:leadId 200',
      'patch /v1/leads/:leadId 200',
      'post /v1/sequences 201',
      'get /v1/sequences/:sequenceId 200',
      'post /v1/enrollments 202',
      'post /v1/enrollments 409',
      'get /v1/enrollments 200',
      'get /v1/enrollments/:enrollmentId 200',
      'post /v1/enrollments/:enrollmentId/pause 200',
      'post /v1/enrollments/:enrollmentId/resume 200',
      'post /v1/enrollments/:enrollmentId/skip 200',
      'post /v1/enrollments/:enrollmentId/cancel 202',
      'get /v1/leads/:leadId/messages 200',
      'post /v1/enrollments/batch 200',
      'post /v1/appointments 201',
      'get /v1/appointments 200',
      'get /v1/appointments/:appointmentId 200',
      'post /v1/appointments/:appointmentId/reschedule 200',
      'post /v1/appointments/:appointmentId/cancel 200',
      'post /v1/opt-outs 201',
      'get /v1/opt-outs 200',
      'get /v1/opt-outs/:phone/consent 200',
      'delete /v1/opt-outs/:phone 200',
      'get /v1/events 200',
      'get /v1/analytics/overview 200',
      'get /v1/analytics/sequences/:sequenceId 200',
      'get /v1/analytics/overview 400',
      'post /v1/webhook-endpoints 201',
      'get /v1/webhook-endpoints 200',
      'get /v1/webhook-endpoints/:id 200',
      'patch /v1/webhook-endpoints/:id 200',
      'post /v1/webhook-endpoints/:id/test 202',
      'get /v1/webhook-endpoints/:id/deliveries 200',
      'post /v1/webhook-endpoints/:id/rotate-secret 200',
      'delete /v1/webhook-endpoints/:id 204',
      'get /v1/settings 200',
      'patch /v1/settings 200',
      'patch /v1/settings 422',
      'get /v1/reports/messages 200',
      'get /v1/sending 200',
      'post /v1/sending/pause 200',
      'post /v1/sending/resume 200',
      'get /health 200',
      'get /v1/leads/:leadId 404',
      'delete /v1/leads/:leadId 200',
      'get /v1/opt-outs 200',
      'get /v1/leads 401',
    ]);
    // Every tenant route but the one that needs a failed delivery first (covered in webhook-endpoints.test.ts).
    const tenantRoutes = operations
      .filter((operation) => operation.auth === 'tenant')
      .map((operation) => `${operation.method} ${operation.path}`);
    const answered = new Set(checked.map((line) => line.split(' ').slice(0, 2).join(' ')));
    expect(tenantRoutes.filter((route) => !answered.has(route))).toEqual([
      'post /v1/webhook-endpoints/:id/deliveries/:deliveryId/retry',
    ]);
  });
});

describe('the reference page', () => {
  it('serves Swagger UI from this server, with its assets', async () => {
    const page = await request(stack.app).get('/docs');
    expect(page.status).toBe(200);
    expect(page.text).toContain('/docs/assets/swagger-ui-bundle.js');
    const bundle = await request(stack.app).get('/docs/assets/swagger-ui-bundle.js');
    expect(bundle.status).toBe(200);
    expect(bundle.text.length).toBeGreaterThan(100_000);
    expect((await request(stack.app).get('/docs/start.js')).text).toContain("url: '/openapi.json'");
  });
});
