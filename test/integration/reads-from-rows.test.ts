// Issue 15: GET /v1/enrollments/:id and GET /v1/appointments/:id answer from PostgreSQL; `?live=true` asks the run.
// The default answer must say what the run itself says (step, next send, what it waits for), Temporal down or not.
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { createSignalRelay } from '../../api/signal-relay.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { stackForFile, testAppDeps } from '../support/stack.js';

const stack = stackForFile();
const quiet = pino({ level: 'silent' });

/** The same service with a Temporal that cannot be reached: whatever it answers came from PostgreSQL. */
function offlineApp() {
  const temporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 500 }) });
  return createApp(
    testAppDeps(stack.db, temporal, stack.taskQueue, {
      logger: quiet,
      signalRelay: createSignalRelay({ db: stack.db, temporal, logger: quiet }),
    }),
  );
}

async function enrolled(steps: { delaySeconds: number; template: string }[]) {
  const { auth } = await createTenant(stack.db, anytimeSettings);
  const phone = randomUkMobile();
  const lead = (await request(stack.app).post('/v1/leads').set(auth).send({ phone: phone.national })).body as {
    id: string;
  };
  const sequence = (await request(stack.app).post('/v1/sequences').set(auth).send({ name: 'reads', steps })).body as {
    id: string;
  };
  const enrollment = (
    await request(stack.app).post('/v1/enrollments').set(auth).send({ leadId: lead.id, sequenceId: sequence.id })
  ).body as { id: string; workflowId: string };
  return { auth, phone, leadId: lead.id, enrollment };
}

describe('GET /v1/enrollments/:id from the rows', () => {
  it('names the fact that halted it while its run has not heard yet (Temporal unreachable, the signal queued)', async () => {
    const { auth, enrollment } = await enrolled([{ delaySeconds: 3600, template: 'first' }]);
    const haltedAt = new Date();
    await stack.db.enrollment.update({ where: { id: enrollment.id }, data: { haltedAt, haltedBy: 'replied' } });
    const answer = await request(offlineApp()).get(`/v1/enrollments/${enrollment.id}`).set(auth);
    expect(answer.body).toMatchObject({
      status: 'running',
      haltedBy: 'replied',
      haltedAt: haltedAt.toISOString(),
      progress: { waitingFor: 'nothing' },
    });
    await request(stack.app).post(`/v1/enrollments/${enrollment.id}/cancel`).set(auth);
  });

  it('shows the step, what it waits for and the next send time as the run does, with Temporal unreachable', async () => {
    const { auth, phone, enrollment } = await enrolled([
      { delaySeconds: 0, template: 'first' },
      { delaySeconds: 3600, template: 'second' },
    ]);
    await expect.poll(() => stack.fake.createCallsTo(phone.e164), { timeout: 15_000 }).toBe(1);
    const live = async () =>
      (await request(stack.app).get(`/v1/enrollments/${enrollment.id}?live=true`).set(auth)).body as {
        live: { step: number; waitingFor: string; nextSendAt: string | null };
      };
    await expect.poll(async () => (await live()).live.waitingFor, { timeout: 15_000 }).toBe('delay');
    const asked = await live();

    const answer = await request(offlineApp()).get(`/v1/enrollments/${enrollment.id}`).set(auth);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      id: enrollment.id,
      status: 'running',
      progress: { step: 1, totalSteps: 2, paused: false, waitingFor: 'delay', messagesSent: 1 },
      capacityHold: null,
      live: null,
    });
    // The run counts the delay from when its send returned, the row from when Twilio accepted it: a moment apart.
    const fromRows = Date.parse(answer.body.progress.nextSendAt as string);
    expect(Math.abs(fromRows - Date.parse(asked.live.nextSendAt ?? ''))).toBeLessThan(2000);

    const offlineLive = await request(offlineApp()).get(`/v1/enrollments/${enrollment.id}?live=true`).set(auth);
    expect(offlineLive.body).toMatchObject({
      progress: { step: 1 },
      live: null,
      liveError: 'temporal_unavailable',
    });
    await request(stack.app).post(`/v1/enrollments/${enrollment.id}/cancel`).set(auth);
  });

  it('shows a pause the run accepted, and a skip that waives the next step’s delay', async () => {
    const { auth, phone, enrollment } = await enrolled([
      { delaySeconds: 3600, template: 'first' },
      { delaySeconds: 3600, template: 'second' },
      { delaySeconds: 3600, template: 'third' },
    ]);
    const read = async () =>
      (await request(offlineApp()).get(`/v1/enrollments/${enrollment.id}`).set(auth)).body as {
        progress: { step: number; waitingFor: string; paused: boolean };
      };
    expect((await read()).progress).toMatchObject({ step: 0, waitingFor: 'delay', paused: false });

    expect((await request(stack.app).post(`/v1/enrollments/${enrollment.id}/pause`).set(auth)).status).toBe(200);
    expect((await read()).progress).toMatchObject({ step: 0, waitingFor: 'pause', paused: true });
    expect((await request(stack.app).post(`/v1/enrollments/${enrollment.id}/resume`).set(auth)).status).toBe(200);
    expect((await read()).progress).toMatchObject({ waitingFor: 'delay', paused: false });

    const skipped = await request(stack.app).post(`/v1/enrollments/${enrollment.id}/skip`).set(auth).send({ step: 2 });
    expect(skipped.status).toBe(200);
    await expect.poll(() => stack.fake.createCallsTo(phone.e164), { timeout: 15_000 }).toBe(1);
    await expect.poll(async () => (await read()).progress.step, { timeout: 15_000 }).toBe(3);
    expect(await read()).toMatchObject({ progress: { messagesSent: 1, waitingFor: 'nothing' } });
  });
});

describe('GET /v1/appointments/:id from the row', () => {
  it('answers the reminders and the next one with Temporal unreachable; live only when asked', async () => {
    const { auth, leadId } = await enrolled([{ delaySeconds: 3600, template: 'unused' }]);
    const startsAt = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const booked = await request(stack.app).post('/v1/appointments').set(auth).send({ leadId, startsAt });
    expect(booked.status).toBe(201);

    const answer = await request(offlineApp())
      .get(`/v1/appointments/${booked.body.id as string}`)
      .set(auth);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      status: 'scheduled',
      startsAt,
      nextReminderAt: booked.body.nextReminderAt,
      reminders: [{ status: 'scheduled' }, { status: 'scheduled' }],
      live: null,
    });
    const asked = await request(stack.app)
      .get(`/v1/appointments/${booked.body.id as string}?live=true`)
      .set(auth);
    expect(asked.body).toMatchObject({ live: { status: 'scheduled', startsAt } });
    await stack.client.workflow.getHandle(booked.body.workflowId as string).terminate('test cleanup');
  });
});
