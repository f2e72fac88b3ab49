// The counters' write path alone, against the suite's PostgreSQL: attribution to the last step sent, once-only
// counting, the tenant-zone day, and the click hook the short-links work calls.
import { afterAll, describe, expect, it } from 'vitest';
import {
  countEnrollmentFact,
  countLeadFact,
  recordClick,
  recordMessageFact,
} from '../../common/analytics/aggregate.js';
import { recordHandover } from '../../activities/twilio-handover.js';
import { createOutboundMessage } from '../../scripts/db/outbound-message.js';
import { createTenant, enrolledLead, pendingFirstStep, testDb } from '../support/fixtures.js';

const db = testDb();
afterAll(() => db.$disconnect());

async function enrollmentWithSends(sends: { step: number; variant?: string; sentAt: string }[]) {
  const { tenant } = await createTenant(db, { defaultTimeZone: 'America/New_York' });
  const { lead, enrollment } = await enrolledLead(db, tenant.id, {
    startedAt: new Date('2026-11-01T12:00:00Z'),
  });
  const messages = [];
  for (const send of sends)
    messages.push(
      await createOutboundMessage(db, lead, {
        enrollmentId: enrollment.id,
        body: 'hi',
        status: 'sent',
        segments: 1,
        cost: '0.0083',
        variant: send.variant ?? null,
        idempotencyKey: `${enrollment.id}:${send.step}`,
        sentAt: new Date(send.sentAt),
      }),
    );
  const rows = () =>
    db.analyticsDaily.findMany({ where: { tenantId: tenant.id }, orderBy: [{ day: 'asc' }, { step: 'asc' }] });
  return { tenantId: tenant.id, leadId: lead.id, enrollmentId: enrollment.id, messages, rows };
}

const day = (date: string) => new Date(`${date}T00:00:00Z`);

describe('analytics counters', () => {
  it('credits a reply to the last step sent before it, in the variant that step sent, once', async () => {
    const { enrollmentId, rows } = await enrollmentWithSends([
      { step: 0, variant: 'B', sentAt: '2026-11-01T12:00:00Z' },
      { step: 1, sentAt: '2026-11-03T12:00:00Z' },
    ]);
    await db.$transaction(async (tx) => {
      expect(await countEnrollmentFact(tx, enrollmentId, 'replied', new Date('2026-11-02T15:00:00Z'))).toBe(true);
      expect(await countEnrollmentFact(tx, enrollmentId, 'replied', new Date('2026-11-04T15:00:00Z'))).toBe(false);
    });
    expect(await rows()).toEqual([
      expect.objectContaining({ step: 0, variant: 'B', day: day('2026-11-02'), replied: 1, sent: 0 }),
    ]);
  });

  it('puts an outcome before any send on step -1, and counts an enrollment once however often it is reported', async () => {
    const { enrollmentId, rows } = await enrollmentWithSends([]);
    for (let i = 0; i < 2; i += 1)
      await db.$transaction(async (tx) => {
        await countEnrollmentFact(tx, enrollmentId, 'enrolled', new Date('2026-11-01T12:00:00Z'));
        await countEnrollmentFact(tx, enrollmentId, 'opted_out', new Date('2026-11-01T13:00:00Z'));
      });
    expect(await rows()).toEqual([
      expect.objectContaining({ step: -1, variant: '', day: day('2026-11-01'), enrolled: 1, optedOut: 1 }),
    ]);
  });

  it("buckets by the tenant's zone at the time of the fact and adds the cost of what was sent", async () => {
    const { messages, rows } = await enrollmentWithSends([{ step: 0, variant: 'A', sentAt: '2026-11-02T02:30:00Z' }]);
    const [message] = messages;
    if (!message) throw new Error('no message written');
    // 02:30 UTC on 2 November is 21:30 on 1 November in New York; delivered at 05:10 UTC, the 2nd there.
    await db.$transaction(async (tx) => {
      const fact = { message, details: {} };
      await recordMessageFact(tx, {
        ...fact,
        type: 'message.sent',
        fact: 'sent',
        at: new Date('2026-11-02T02:30:00Z'),
      });
      await recordMessageFact(tx, {
        ...fact,
        type: 'message.delivered',
        fact: 'delivered',
        at: new Date('2026-11-02T05:10:00Z'),
      });
    });
    const [first, second] = await rows();
    expect(first).toMatchObject({ day: day('2026-11-01'), step: 0, variant: 'A', sent: 1, segments: 1 });
    expect(first?.cost.toString()).toBe('0.0083');
    expect(second).toMatchObject({ day: day('2026-11-02'), delivered: 1, sent: 0, segments: 0 });
  });

  it('counts a message found at Twilio later (a retry or the claim settler asked) on the day Twilio created it', async () => {
    const { tenant } = await createTenant(db, { defaultTimeZone: 'America/New_York' });
    const { row: message } = await pendingFirstStep(db, tenant.id);
    const createdAt = new Date('2026-11-02T02:30:00Z');
    expect(await recordHandover(db, message, { sid: `SM${'f'.repeat(32)}`, status: 'queued', createdAt })).toBe(true);
    // 02:30 UTC on 2 November is the 1st in New York, whenever the lookup found it.
    expect(await db.analyticsDaily.findMany({ where: { tenantId: tenant.id } })).toEqual([
      expect.objectContaining({ day: day('2026-11-01'), step: 0, sent: 1 }),
    ]);
    expect(await db.message.findUniqueOrThrow({ where: { id: message.id } })).toMatchObject({ sentAt: createdAt });
  });

  it('counts a click once per message, on its step and variant, and only for its own tenant', async () => {
    const { tenantId, enrollmentId, messages, rows } = await enrollmentWithSends([
      { step: 2, variant: 'C', sentAt: '2026-11-01T15:00:00Z' },
    ]);
    // What the message's link keeps of it.
    const click = { messageId: messages[0]?.id ?? '', enrollmentId, step: 2, variant: 'C' };
    const other = await createTenant(db);
    await db.$transaction(async (tx) => {
      expect(await recordClick(tx, { ...click, tenantId: other.tenant.id })).toBe(false);
      expect(await recordClick(tx, { ...click, tenantId, at: new Date('2026-11-01T16:00:00Z') })).toBe(true);
      expect(await recordClick(tx, { ...click, tenantId, at: new Date('2026-11-01T17:00:00Z') })).toBe(false);
    });
    expect(await rows()).toEqual([expect.objectContaining({ step: 2, variant: 'C', clicked: 1 })]);
  });

  it("credits a lead's reply to its latest enrollment, and to none once that ended more than the window ago", async () => {
    const { tenantId, leadId, enrollmentId, rows } = await enrollmentWithSends([
      { step: 0, sentAt: '2026-11-01T12:00:00Z' },
    ]);
    await db.enrollment.update({
      where: { id: enrollmentId },
      data: { status: 'completed', closedAt: new Date('2026-11-01T12:00:00Z') },
    });
    await db.$transaction((tx) =>
      countLeadFact(tx, { tenantId, leadId, fact: 'replied', at: new Date('2026-11-20T12:00:00Z') }),
    );
    expect(await rows()).toEqual([]);
    await db.$transaction((tx) =>
      countLeadFact(tx, { tenantId, leadId, fact: 'replied', at: new Date('2026-11-05T12:00:00Z') }),
    );
    expect(await rows()).toEqual([expect.objectContaining({ step: 0, replied: 1, day: day('2026-11-05') })]);
  });
});
