// The README's operator queries ("Operating it"), run with the project's Temporal CLI against a stack's server: each
// finds exactly the runs it says it finds. Shared by the dev server's suite and the PostgreSQL engine's.
import { execFileSync } from 'node:child_process';
import request from 'supertest';
import { expect } from 'vitest';
import { temporalCliPath } from '../../scripts/stack/paths.js';
import { anytimeSettings, createTenant, randomUkMobile } from './fixtures.js';
import type { TestStack } from './stack.js';

function listWorkflows(address: string, query: string): string[] {
  const output = execFileSync(
    temporalCliPath,
    ['workflow', 'list', '--query', query, '--output', 'json', '--address', address],
    { encoding: 'utf8' },
  );
  const runs = output.trim() ? (JSON.parse(output) as { execution: { workflowId: string } }[]) : [];
  return runs.map((run) => run.execution.workflowId).sort();
}

export async function expectReadmeOperatorQueriesWork(stack: TestStack, address: string): Promise<void> {
  const list = (query: string) => listWorkflows(address, query);
  const hour = new Date().getUTCHours();
  const closed = {
    windowStart: `${String((hour + 2) % 24).padStart(2, '0')}:00`,
    windowEnd: `${String(((hour + 2) % 24) + 1).padStart(2, '0')}:00`,
  };
  const { tenant, auth } = await createTenant(stack.db, { ...anytimeSettings, defaultTimeZone: 'UTC' });
  const enroll = async (steps: { delaySeconds: number; template: string }[]) => {
    const phone = randomUkMobile();
    const lead = await request(stack.app).post('/v1/leads').set(auth).send({ phone: phone.national, firstName: 'Ada' });
    const sequence = await request(stack.app)
      .post('/v1/sequences')
      .set(auth)
      .send({ name: `q-${Math.random()}`, steps });
    const enrollment = await request(stack.app)
      .post('/v1/enrollments')
      .set(auth)
      .send({ leadId: lead.body.id, sequenceId: sequence.body.id });
    return {
      phone: phone.e164,
      leadId: lead.body.id as string,
      workflowId: enrollment.body.workflowId as string,
      id: enrollment.body.id as string,
    };
  };
  const optedOut = await enroll([{ delaySeconds: 3600, template: 'x' }]);
  await stack.client.workflow.getHandle(optedOut.workflowId).signal('optOut', { source: 'inbound_keyword' });
  const invalidNumber = randomUkMobile();
  stack.fake.inject({ kind: 'twilioError', code: 21211 }, { to: invalidNumber.e164 });
  const lead = await request(stack.app)
    .post('/v1/leads')
    .set(auth)
    .send({ phone: invalidNumber.national, firstName: 'Bo' });
  const sequence = await request(stack.app)
    .post('/v1/sequences')
    .set(auth)
    .send({ name: 'failing', steps: [{ delaySeconds: 0, template: 'x' }] });
  const failed = (
    await request(stack.app)
      .post('/v1/enrollments')
      .set(auth)
      .send({ leadId: lead.body.id, sequenceId: sequence.body.id })
  ).body as { workflowId: string };
  // The send gate applies the window as it is now: the failing send must have gone to Twilio before it closes.
  expect(await stack.client.workflow.getHandle(failed.workflowId).result()).toMatchObject({ status: 'failed' });
  await request(stack.app).patch('/v1/settings').set(auth).send(closed);
  const held = await enroll([{ delaySeconds: 0, template: 'held' }]);

  const dayAgo = new Date(Date.now() - 86_400_000).toISOString();
  await expect
    .poll(() => list(`TenantId="${tenant.id}" AND ExecutionStatus="Running" AND WaitingFor="window"`), {
      timeout: 15_000,
      interval: 500,
    })
    .toEqual([held.workflowId]);
  await expect
    .poll(() => list(`TenantId="${tenant.id}" AND EnrollmentStatus="opted_out"`), { timeout: 15_000, interval: 500 })
    .toEqual([optedOut.workflowId]);
  await expect
    .poll(() => list(`LeadId="${held.leadId}"`), { timeout: 15_000, interval: 500 })
    .toEqual([held.workflowId]);
  await expect
    .poll(() => list(`TenantId="${tenant.id}" AND EnrollmentStatus="failed" AND CloseTime > "${dayAgo}"`), {
      timeout: 15_000,
      interval: 500,
    })
    .toEqual([failed.workflowId]);
  await request(stack.app).post(`/v1/enrollments/${held.id}/cancel`).set(auth);
}
