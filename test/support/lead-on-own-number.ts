import request from 'supertest';
import { expect } from 'vitest';
import { anytimeSettings, createTenant, randomUkMobile } from './fixtures.js';
import type { TestStack } from './stack.js';
import { inbound, randomSenderNumber } from './webhooks.js';

/**
 * A tenant with a number of its own (so the lead's replies reach it whoever else texts the phone) and a lead in
 * London; `reply` texts the tenant's number from the lead's phone.
 */
export async function tenantWithLead(stack: TestStack, settings: Record<string, unknown> = {}) {
  const owner = await createTenant(stack.db, { ...anytimeSettings, ...settings });
  const sender = randomSenderNumber();
  await stack.db.tenantSender.create({ data: { tenantId: owner.tenant.id, value: sender } });
  const phone = randomUkMobile();
  const lead = await request(stack.app)
    .post('/v1/leads')
    .set(owner.auth)
    .send({ phone: phone.national, firstName: 'Ada', timeZone: 'Europe/London' });
  expect(lead.status).toBe(201);
  const reply = (Body: string) => inbound(stack.app, { From: phone.e164, To: sender, Body });
  return { ...owner, sender, phone: phone.e164, leadId: lead.body.id as string, reply };
}
