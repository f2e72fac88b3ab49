import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { generateApiKey } from '../../api/auth.js';
import { createDb, type Db } from '../../common/db.js';
import type { Prisma } from '../../generated/prisma/client.js';
import type { AppointmentReminderInput } from '../../workflows/appointment-reminder.messages.js';
import { createOutboundMessage } from '../../scripts/db/outbound-message.js';

export function testDb(): Db {
  return createDb(inject('databaseUrl'), { maxConnections: 5 });
}

/** Every test works in a tenant of its own, so test files can share one database without seeing each other. */
export async function createTenant(db: Db, settings: Partial<Prisma.TenantCreateInput> = {}) {
  const key = generateApiKey();
  const tenant = await db.tenant.create({
    data: {
      name: `test-${randomUUID()}`,
      businessName: 'Acme Dental',
      defaultRegion: 'GB',
      defaultTimeZone: 'Europe/London',
      ...settings,
      apiKeys: { create: { name: 'test', prefix: key.prefix, hash: key.hash } },
    },
  });
  return { tenant, apiKey: key.key, auth: { Authorization: `Bearer ${key.key}` } };
}

/** A UK mobile number in the 07700 9xxxxx block (Ofcom's drama numbers sit in it), random per call. */
export function randomUkMobile(): { national: string; e164: string } {
  const digits = String(Math.floor(Math.random() * 100_000)).padStart(5, '0');
  return { national: `07700 9${digits}`, e164: `+447700 9${digits}`.replace(' ', '') };
}

/** A tenant whose window is open all day and whose caps don't bite, for tests about other things. */
export const anytimeSettings = { windowStart: '00:00', windowEnd: '24:00', minGapSeconds: 0, maxPerDay: 1000 } as const;

/** A lead of the tenant enrolled in an empty sequence, as rows only (no workflow): for tests of one activity or query. */
export async function enrolledLead(
  db: Db,
  tenantId: string,
  { lead = {}, startedAt }: { lead?: Partial<Prisma.LeadUncheckedCreateInput>; startedAt?: Date } = {},
) {
  const created = await db.lead.create({
    data: { tenantId, phone: randomUkMobile().e164, timeZone: 'Europe/London', ...lead },
  });
  const sequence = await db.sequenceDefinition.create({ data: { tenantId, name: 's', version: 1, steps: [] } });
  const enrollment = await db.enrollment.create({
    data: {
      tenantId,
      leadId: created.id,
      sequenceId: sequence.id,
      workflowId: `followup:${tenantId}:${created.id}`,
      ...(startedAt ? { startedAt } : {}),
    },
  });
  return { lead: created, sequence, enrollment };
}

/** A lead's first step, written and pending as its send's first attempt leaves it (with `message`'s overrides). */
export async function pendingFirstStep(
  db: Db,
  tenantId: string,
  message: Partial<Prisma.MessageUncheckedCreateInput> = {},
) {
  const { lead, enrollment } = await enrolledLead(db, tenantId);
  const row = await createOutboundMessage(db, lead, {
    enrollmentId: enrollment.id,
    body: 'hi',
    status: 'pending',
    segments: 1,
    idempotencyKey: `${enrollment.id}:0`,
    ...message,
  });
  return { lead, enrollment, row };
}

/** A lead of the tenant for `phone`, texted from `from` at `at`: a row only, as if its follow-up had sent it. */
export async function leadTextedAt(
  db: Db,
  { tenantId, phone, from, at }: { tenantId: string; phone: string; from: string; at: Date },
) {
  const lead = await db.lead.create({ data: { tenantId, phone, timeZone: 'Europe/London' } });
  await db.message.create({
    data: {
      tenantId,
      leadId: lead.id,
      direction: 'outbound',
      toPhone: phone,
      fromPhone: from,
      body: 'Hi',
      status: 'sent',
      createdAt: at,
      sentAt: at,
    },
  });
  return lead;
}

/** An appointment's run input for `lead` of `tenantId`, a half-hour in London at `startsAt`, booked from nothing. */
export const appointmentInput = (
  { tenantId, leadId, startsAt }: { tenantId: string; leadId: string; startsAt: string },
  more: Partial<AppointmentReminderInput> = {},
): AppointmentReminderInput => ({
  tenantId,
  leadId,
  appointmentId: randomUUID(),
  startsAt,
  timeZone: 'Europe/London',
  durationMinutes: 30,
  location: null,
  notes: null,
  reminderOffsetsSeconds: [],
  bookedFrom: null,
  ...more,
});
