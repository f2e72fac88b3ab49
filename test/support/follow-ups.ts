// A lead in a running follow-up, through the API as a tenant would do it, for tests about what ends it.
import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import { expect } from 'vitest';
import { randomUkMobile } from './fixtures.js';

export type Steps = { delaySeconds: number; template: string }[];

/** Enrolls a lead into a new sequence of `steps`: the enrollment's id. */
export async function enrollInNewSequence(app: Express, auth: Record<string, string>, leadId: string, steps: Steps) {
  const sequence = await request(app)
    .post('/v1/sequences')
    .set(auth)
    .send({ name: `s-${randomUUID()}`, steps });
  const enrollment = await request(app)
    .post('/v1/enrollments')
    .set(auth)
    .send({ leadId, sequenceId: sequence.body.id });
  expect(enrollment.status).toBe(202);
  return enrollment.body.id as string;
}

/** Enrolls a new lead (a random UK mobile unless `phone` is given) into a new sequence of `steps`. */
export async function enrolledLead(
  app: Express,
  auth: Record<string, string>,
  steps: Steps,
  phone: string = randomUkMobile().e164,
) {
  const lead = await request(app).post('/v1/leads').set(auth).send({ phone, firstName: 'Ada' });
  expect(lead.status).toBeLessThan(300);
  const leadId = lead.body.id as string;
  return { phone, leadId, enrollmentId: await enrollInNewSequence(app, auth, leadId, steps) };
}

export const enrollmentStatus = async (app: Express, auth: Record<string, string>, id: string) =>
  (await request(app).get(`/v1/enrollments/${id}`).set(auth)).body.status as string;
