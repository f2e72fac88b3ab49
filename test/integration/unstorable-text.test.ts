// PostgreSQL cannot store the NUL character, nor half of a surrogate pair on its own: text carrying either is refused
// like any invalid field, before anything is written or started, wherever in the request it is (a field, a nested one,
// a CSV cell, the query string).
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { stackForFile } from '../support/stack.js';

const stack = stackForFile();
const api = () => request(stack.app);
const nul = '\u0000';
const refusal = ['contains the NUL character (U+0000), which cannot be stored'];

async function tenantWithLead() {
  const { tenant, auth } = await createTenant(stack.db, anytimeSettings);
  const lead = await api().post('/v1/leads').set(auth).send({ phone: randomUkMobile().national, firstName: 'Ada' });
  expect(lead.status).toBe(201);
  return { tenantId: tenant.id, auth, leadId: lead.body.id as string };
}

const refusedField = (answer: request.Response, field: string) => {
  expect(answer.status).toBe(422);
  expect(answer.body.error).toMatchObject({ code: 'validation_failed', details: { fields: { [field]: refusal } } });
};

describe('text PostgreSQL cannot store', () => {
  it('the NUL character in a lead, a sequence or a nested step: 422 naming the field, nothing written', async () => {
    const { tenantId, auth } = await tenantWithLead();
    refusedField(
      await api()
        .post('/v1/leads')
        .set(auth)
        .send({ phone: randomUkMobile().national, firstName: `A${nul}` }),
      'firstName',
    );
    refusedField(
      await api()
        .post('/v1/sequences')
        .set(auth)
        .send({ name: `seq${nul}`, steps: [{ delaySeconds: 0, template: 'Hi' }] }),
      'name',
    );
    refusedField(
      await api()
        .post('/v1/sequences')
        .set(auth)
        .send({ name: 'seq', steps: [{ delaySeconds: 0, template: `Hi${nul}` }] }),
      'steps.0.template',
    );
    expect(await stack.db.lead.count({ where: { tenantId } })).toBe(1);
    expect(await stack.db.sequenceDefinition.count({ where: { tenantId } })).toBe(0);
  });

  it('the NUL character in an appointment: 422, where Temporal was asked first and its run then waited for ever for a row it could not write', async () => {
    const { tenantId, auth, leadId } = await tenantWithLead();
    const startsAt = new Date(Date.now() + 86_400_000).toISOString();
    refusedField(
      await api()
        .post('/v1/appointments')
        .set(auth)
        .send({ leadId, startsAt, location: `Surgery${nul}2` }),
      'location',
    );
    expect(await stack.db.appointment.count({ where: { tenantId } })).toBe(0);
  });

  it("the NUL character in a CSV batch's cell: 422 naming the row's field, no lead saved", async () => {
    const { tenantId, auth } = await tenantWithLead();
    const sequence = await api()
      .post('/v1/sequences')
      .set(auth)
      .send({ name: `seq-${randomUUID()}`, steps: [{ delaySeconds: 0, template: 'Hi' }] });
    const csv = `phone,firstName\n${randomUkMobile().e164},Grace${nul}\n`;
    refusedField(
      await api()
        .post(`/v1/enrollments/batch?sequenceId=${sequence.body.id}`)
        .set(auth)
        .set('Content-Type', 'text/csv')
        .send(csv),
      '0.firstName',
    );
    expect(await stack.db.lead.count({ where: { tenantId } })).toBe(1);
  });

  it('the NUL character in the query string: 400 naming the parameter', async () => {
    const { auth } = await tenantWithLead();
    const answer = await api().get('/v1/leads?before=2026-01-01%00').set(auth);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'bad_request', details: { fields: { before: refusal } } });
  });

  it('year 0000, which ISO 8601 and JavaScript take and PostgreSQL refuses, in a list, a report or an analytics range: 400', async () => {
    const { auth } = await tenantWithLead();
    for (const path of [
      '/v1/leads?before=0000-01-01T00:00:00Z',
      '/v1/reports/messages?since=0000-01-01T00:00:00Z',
      '/v1/analytics/overview?from=0000-01-01&to=0000-01-02',
    ]) {
      const answer = await api().get(path).set(auth);
      expect(answer.status, path).toBe(400);
      expect(answer.body.error.code).toBe('bad_request');
    }
  });

  it('control characters in a template (JSON writes each as six bytes, past what Temporal takes as a run input): 422', async () => {
    const { tenantId, auth } = await tenantWithLead();
    const refused = await api()
      .post('/v1/sequences')
      .set(auth)
      .send({ name: 'seq', steps: [{ delaySeconds: 0, template: `Hi\u0001 there` }] });
    expect(refused.status).toBe(422);
    expect(refused.body.error.details.fields['steps.0.template']).toEqual([
      'must not contain control characters (other than tabs and line breaks)',
    ]);
    const kept = await api()
      .post('/v1/sequences')
      .set(auth)
      .send({ name: 'seq', steps: [{ delaySeconds: 0, template: 'Hi,\n\tsee you\r\n' }] });
    expect(kept.status).toBe(201);
    const settings = await api()
      .patch('/v1/settings')
      .set(auth)
      .send({ appointmentReminderTemplate: 'At {{time}}\u007f' });
    expect(settings.status).toBe(422);
    expect(await stack.db.sequenceDefinition.count({ where: { tenantId } })).toBe(1);
  });

  it('a body nested 20,000 deep is looked through without overflowing the stack, and refused as any unknown field', async () => {
    const { auth } = await tenantWithLead();
    const deep = `{"phone":"07700900123","extra":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const answer = await api().post('/v1/leads').set(auth).set('Content-Type', 'application/json').send(deep);
    expect(answer.status).toBe(422);
    expect(answer.body.error.code).toBe('validation_failed');
  });

  // JSON can escape half of a surrogate pair alone: JavaScript keeps it, PostgreSQL's jsonb refuses it (an event's data,
  // a sequence's steps) and its text turns it into U+FFFD. Sent as JSON text, where `\ud800` in it is the escape.
  const postJson = (auth: Record<string, string>, path: string, body: object) =>
    api()
      .post(path)
      .set(auth)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(body).replace('LONE', '\\ud800'));

  it('half a surrogate pair in an appointment, a sequence, an opt-out or a lead: 422 naming the field, nothing written or started', async () => {
    const { tenantId, auth, leadId } = await tenantWithLead();
    const startsAt = new Date(Date.now() + 86_400_000).toISOString();
    const refusedAs = (answer: request.Response, field: string) => {
      expect(answer.status).toBe(422);
      expect(answer.body.error).toMatchObject({
        code: 'validation_failed',
        details: { fields: { [field]: [expect.stringContaining('U+D800')] } },
      });
    };
    refusedAs(await postJson(auth, '/v1/appointments', { leadId, startsAt, location: 'Room LONE' }), 'location');
    refusedAs(
      await postJson(auth, '/v1/sequences', { name: 'seq', steps: [{ delaySeconds: 0, template: 'Hi LONE' }] }),
      'steps.0.template',
    );
    refusedAs(await postJson(auth, '/v1/opt-outs', { phone: randomUkMobile().e164, source: 'web LONE' }), 'source');
    refusedAs(await postJson(auth, '/v1/leads', { phone: randomUkMobile().e164, firstName: 'A LONE' }), 'firstName');
    expect(await stack.db.appointment.count({ where: { tenantId } })).toBe(0);
    expect(await stack.db.sequenceDefinition.count({ where: { tenantId } })).toBe(0);
    expect(await stack.db.optOut.count({ where: { tenantId } })).toBe(0);
    expect(await stack.db.lead.count({ where: { tenantId } })).toBe(1);
  });

  it('a whole surrogate pair (an emoji, escaped or not) is a character, and is kept', async () => {
    const { auth } = await tenantWithLead();
    const json = `{"phone":"${randomUkMobile().e164}","firstName":"A \\ud83d\\ude00 😀"}`;
    const lead = await api().post('/v1/leads').set(auth).set('Content-Type', 'application/json').send(json);
    expect(lead.status).toBe(201);
    expect(lead.body.firstName).toBe('A 😀 😀');
  });

  it('a backslash followed by u0000 is only text, and is kept', async () => {
    const { auth } = await tenantWithLead();
    const lead = await api()
      .post('/v1/leads')
      .set(auth)
      .send({ phone: randomUkMobile().national, firstName: 'A\\u0000' });
    expect(lead.status).toBe(201);
    expect(lead.body.firstName).toBe('A\\u0000');
  });
});
