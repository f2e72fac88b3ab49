// Which tenants an inbound message reaches (the sender's owner, else whoever texted the phone from that sender) and
// what a keyword from a lead in a running follow-up does, against the real stack.
import { randomBytes, randomInt } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { lockTenantEventsOf } from '../../common/events.js';
import { phoneHash } from '../../common/opt-outs.js';
import { Prisma } from '../../generated/prisma/client.js';
import { anytimeSettings, createTenant } from '../support/fixtures.js';
import { enrolledLead, enrollmentStatus } from '../support/follow-ups.js';
import { heldTransaction, untilWaitingBehind } from '../support/held-transaction.js';
import { startTestStack, testSenderNumber, type TestStack } from '../support/stack.js';
import { inbound, messageSid, postWebhook, randomSenderNumber } from '../support/webhooks.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.stop());

/**
 * Phones no other test file texts: the suite shares one database and the default number, and a phone texted from it
 * by another file's tenant would be that tenant's too.
 */
const privatePhone = () => `+4475${String(randomInt(100_000_000)).padStart(8, '0')}`;
/** The first step goes out at once, the second not for an hour: the follow-up is running when the lead answers. */
const twoSteps = [
  { delaySeconds: 0, template: 'Hi {{firstName}}, want to book?' },
  { delaySeconds: 3600, template: 'Still interested?' },
];

const tenant = () => createTenant(stack.db, anytimeSettings);
type TestTenant = Awaited<ReturnType<typeof tenant>>;

const newSequence = async (owner: TestTenant) =>
  (
    await request(stack.app)
      .post('/v1/sequences')
      .set(owner.auth)
      .send({ name: `s-${randomBytes(4).toString('hex')}`, steps: twoSteps })
  ).body.id as string;
const enrollmentAnswer = async (owner: TestTenant, leadId: string) =>
  request(stack.app)
    .post('/v1/enrollments')
    .set(owner.auth)
    .send({ leadId, sequenceId: await newSequence(owner) });
const enrolledLeadOf = async (owner: TestTenant, phone: string) =>
  (await request(stack.app).post('/v1/leads').set(owner.auth).send({ phone, firstName: 'Ada' })).body as { id: string };
const consentOf = async (owner: TestTenant, phone: string) =>
  (
    await request(stack.app)
      .get(`/v1/opt-outs/${encodeURIComponent(phone)}/consent`)
      .set(owner.auth)
      .expect(200)
  ).body as { numberBlock: { sender: string } | null };
const removeOptOut = (owner: TestTenant, phone: string) =>
  request(stack.app)
    .delete(`/v1/opt-outs/${encodeURIComponent(phone)}`)
    .set(owner.auth)
    .send({ consentSource: 'web form, 2026-12-07' });

/** A follow-up for `phone` whose first message has gone out (from the tenant's sender, or the default number). */
async function texted(owner: TestTenant, phone: string) {
  const sentBefore = stack.fake.createCallsTo(phone);
  const lead = await enrolledLead(stack.app, owner.auth, twoSteps, phone);
  await expect.poll(() => stack.fake.createCallsTo(phone), { timeout: 20_000 }).toBe(sentBefore + 1);
  // The row is marked sent just after Twilio answered; only then is it sure to be the phone's latest text.
  await expect
    .poll(() => stack.db.message.count({ where: { enrollmentId: lead.enrollmentId, twilioSid: { not: null } } }), {
      timeout: 10_000,
    })
    .toBe(1);
  return lead;
}

/** A text of the tenant's to the phone from the default number, as its row says (no follow-up behind it). */
const outboundRow = (tenantId: string, phone: string, row: Partial<Prisma.MessageUncheckedCreateInput> = {}) =>
  stack.db.message.create({
    data: {
      tenantId,
      direction: 'outbound',
      toPhone: phone,
      fromPhone: testSenderNumber,
      body: 'Hi there',
      status: 'delivered',
      twilioSid: row.status === 'pending' ? null : messageSid(),
      ...row,
    },
  });
const optedOut = async (tenantId: string, phone: string) =>
  (await stack.db.optOut.count({ where: { tenantId, phoneHash: phoneHash(phone) } })) === 1;
const enrollment = (id: string) => stack.db.enrollment.findUniqueOrThrow({ where: { id } });
const inboundRows = (tenantId: string, phone: string) =>
  stack.db.message.findMany({
    where: { tenantId, fromPhone: phone, direction: 'inbound' },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
  });

/** The reply reached `to` only, as its lead's, and ended that lead's follow-up as replied. */
async function repliedTo(
  to: TestTenant,
  other: TestTenant,
  phone: string,
  lead: { leadId: string; enrollmentId: string },
  body: string,
) {
  expect(await inboundRows(other.tenant.id, phone)).toEqual([]);
  expect(await inboundRows(to.tenant.id, phone)).toEqual([expect.objectContaining({ body, leadId: lead.leadId })]);
  await expect.poll(() => enrollmentStatus(stack.app, to.auth, lead.enrollmentId), { timeout: 20_000 }).toBe('replied');
}

describe('a STOP to a shared number reaches every tenant that texted the phone from it', () => {
  it('STOP to the deployment’s default number: the tenant that texted from it records the opt-out and its follow-up ends as opted_out', async () => {
    const a = await tenant();
    const phone = privatePhone();
    const lead = await texted(a, phone);
    const response = await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'STOP' });
    expect(response.status).toBe(200);
    expect(response.text).toContain('Acme Dental: you are unsubscribed');
    // Committed before the answer: the send gate refuses the next step from now on.
    expect(await optedOut(a.tenant.id, phone)).toBe(true);
    expect(await enrollment(lead.enrollmentId)).toMatchObject({ haltedBy: 'opted_out' });
    expect(
      await stack.db.consentEvent.count({
        where: { tenantId: a.tenant.id, phoneHash: phoneHash(phone), kind: 'opt_out' },
      }),
    ).toBe(1);
    await expect
      .poll(() => enrollmentStatus(stack.app, a.auth, lead.enrollmentId), { timeout: 20_000 })
      .toBe('opted_out');
  });

  it('STOP from a phone two tenants texted from the default number opts it out of both, with one confirmation naming both', async () => {
    const a = await createTenant(stack.db, { ...anytimeSettings, businessName: 'Acme Dental' });
    const b = await createTenant(stack.db, { ...anytimeSettings, businessName: 'Bright Smiles' });
    const phone = privatePhone();
    const [leadA, leadB] = [await texted(a, phone), await texted(b, phone)];
    const response = await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'stop' });
    expect(response.text.match(/<Message>/g)).toHaveLength(1);
    expect(response.text).toMatch(/Bright Smiles, Acme Dental: you are unsubscribed/);
    for (const [owner, lead, name] of [
      [a, leadA, 'Acme Dental'],
      [b, leadB, 'Bright Smiles'],
    ] as const) {
      expect(await optedOut(owner.tenant.id, phone)).toBe(true);
      // Each tenant's record of the confirmation names only itself (before: both, so each learned the other texts
      // this phone).
      const confirmation = await stack.db.message.findFirstOrThrow({
        where: { tenantId: owner.tenant.id, toPhone: phone, idempotencyKey: { startsWith: 'reply:' } },
      });
      expect(confirmation.body).toMatch(new RegExp(`^${name}: you are unsubscribed`));
      expect((await inboundRows(owner.tenant.id, phone)).map((row) => row.intent)).toEqual(['opt_out']);
      await expect
        .poll(() => enrollmentStatus(stack.app, owner.auth, lead.enrollmentId), { timeout: 20_000 })
        .toBe('opted_out');
    }
  });

  it('a STOP in the lead’s words to the default number keeps a tenant that has not texted the phone yet from texting it from there, and says so', async () => {
    const [a, c, d] = [await tenant(), await tenant(), await tenant()];
    const phone = privatePhone();
    await texted(a, phone);
    // The other tenant's follow-up, enrolled before the STOP, its first text due a few seconds later.
    const enrolledBefore = await enrolledLead(stack.app, c.auth, [{ delaySeconds: 5, template: 'Hi there' }], phone);
    expect(
      (await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'please stop texting me' })).status,
    ).toBe(200);
    // Its first text would come from the number the lead asked to stop: Twilio blocks that only for the bare keyword.
    // Before the sender blocks: it went.
    await expect
      .poll(() => enrollmentStatus(stack.app, c.auth, enrolledBefore.enrollmentId), { timeout: 20_000 })
      .toBe('opted_out');
    expect(stack.fake.createCallsTo(phone)).toBe(1);
    // Its row and the CRM's event say it was the number's block, not an opt-out of its own (before: opted_out).
    const row = await stack.db.message.findFirstOrThrow({ where: { enrollmentId: enrolledBefore.enrollmentId } });
    expect(row).toMatchObject({ status: 'skipped', skipReason: 'number_blocked' });
    const skipped = await stack.db.event.findMany({ where: { tenantId: c.tenant.id, type: 'message.skipped' } });
    expect(skipped.map((event) => event.data)).toEqual([expect.objectContaining({ reason: 'number_blocked' })]);
    // Enrolled after the STOP: refused at once, naming the number (before: 202, then refused at its first step).
    const refused = await enrollmentAnswer(c, enrolledBefore.leadId);
    expect(refused.status).toBe(409);
    expect(refused.body.error.details).toMatchObject({ reason: 'opted_out', optedOutOf: testSenderNumber });
    expect((await consentOf(c, phone)).numberBlock).toEqual({ sender: testSenderNumber });
    // A tenant that records the lead's consent may text the phone again, whether the opt-out was its own or only the
    // number's (before: the second was a 404, and nothing got that tenant past the block); the others stay blocked.
    for (const owner of [a, c]) await removeOptOut(owner, phone).expect(200);
    expect((await consentOf(c, phone)).numberBlock).toBeNull();
    await texted(a, phone);
    await texted(c, phone);
    expect((await enrollmentAnswer(d, (await enrolledLeadOf(d, phone)).id)).status).toBe(409);
    const batch = await request(stack.app)
      .post('/v1/enrollments/batch')
      .set(d.auth)
      .send({ sequenceId: await newSequence(d), dryRun: true, leads: [{ phone }] });
    expect(batch.body.results[0]).toMatchObject({
      outcome: 'opted_out',
      reason: `the lead has opted out of messages from ${testSenderNumber}, the number it would be texted from`,
    });
    // The lead's START to the number lifts the number's block: the next enrollment texts it.
    expect((await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'START' })).status).toBe(200);
    await texted(d, phone);
    expect(stack.fake.createCallsTo(phone)).toBe(4);
  });

  it('STOP to a number its tenant has since been unassigned from still reaches that tenant', async () => {
    const a = await tenant();
    const number = randomSenderNumber();
    await stack.db.tenantSender.create({ data: { tenantId: a.tenant.id, value: number } });
    const phone = privatePhone();
    const lead = await texted(a, phone);
    expect(stack.fake.calls.find((call) => call.to === phone)?.from).toBe(number);
    await stack.db.tenantSender.delete({ where: { value: number } });
    await inbound(stack.app, { From: phone, To: number, Body: 'STOP' });
    expect(await optedOut(a.tenant.id, phone)).toBe(true);
    await expect
      .poll(() => enrollmentStatus(stack.app, a.auth, lead.enrollmentId), { timeout: 20_000 })
      .toBe('opted_out');
  });

  it('two STOPs from phones the same two tenants texted last in opposite orders both commit (tenants locked in one order)', async () => {
    const [a, b] = [await tenant(), await tenant()];
    const [p, q] = [privatePhone(), privatePhone()];
    // p reaches [a, b] (a texted it last), q reaches [b, a].
    await outboundRow(b.tenant.id, p, { createdAt: new Date(Date.now() - 60_000) });
    await outboundRow(a.tenant.id, p);
    await outboundRow(a.tenant.id, q, { createdAt: new Date(Date.now() - 60_000) });
    await outboundRow(b.tenant.id, q);
    // b's event lock held: the STOP from q waits for it first; the one from p then, holding whatever it took before.
    const held = await heldTransaction(stack.db, (tx) =>
      tx.$executeRaw(lockTenantEventsOf(Prisma.sql`VALUES (${b.tenant.id}::uuid, 0)`)),
    );
    const fromQ = inbound(stack.app, { From: q, To: testSenderNumber, Body: 'STOP' }).then((response) => response);
    await untilWaitingBehind(stack.db, held.pid, 1);
    const fromP = inbound(stack.app, { From: p, To: testSenderNumber, Body: 'STOP' }).then((response) => response);
    await untilWaitingBehind(stack.db, held.pid, 2);
    held.release();
    await held.committed;
    expect([(await fromQ).status, (await fromP).status]).toEqual([200, 200]);
    for (const phone of [p, q]) for (const owner of [a, b]) expect(await optedOut(owner.tenant.id, phone)).toBe(true);
  });

  it('a message to a shared number from a phone nobody texted from it is dropped: 200, nothing stored', async () => {
    const phone = privatePhone();
    const response = await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'Who is this?' });
    expect(response.status).toBe(200);
    expect(response.text).not.toContain('<Message>');
    expect(await stack.db.message.count({ where: { fromPhone: phone } })).toBe(0);
  });

  it('a STOP in its words to a shared number from a phone nobody texted from it (an erasure may have taken the texts) still blocks the number', async () => {
    const phone = privatePhone();
    const response = await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'please stop texting me' });
    expect(response.status).toBe(200);
    expect(response.text).not.toContain('<Message>');
    expect(await stack.db.message.count({ where: { fromPhone: phone } })).toBe(0);
    // Before: dropped, and the next tenant's first text from the number followed the STOP (Twilio blocks only its keywords).
    const next = await tenant();
    const refused = await enrollmentAnswer(next, (await enrolledLeadOf(next, phone)).id);
    expect(refused.status).toBe(409);
    expect(refused.body.error.details).toMatchObject({ reason: 'opted_out', optedOutOf: testSenderNumber });
    expect((await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'START' })).status).toBe(200);
    expect((await consentOf(next, phone)).numberBlock).toBeNull();
  });
});

describe('a reply to a shared number', () => {
  it('goes to the tenant that texted the phone last: its follow-up ends as replied, the other tenant’s carries on', async () => {
    const [a, b] = [await tenant(), await tenant()];
    const phone = privatePhone();
    const leadA = await texted(a, phone);
    const leadB = await texted(b, phone);
    const response = await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'Tuesday works for me' });
    expect(response.text).not.toContain('<Message>');
    expect(await inboundRows(b.tenant.id, phone)).toEqual([
      expect.objectContaining({ body: 'Tuesday works for me', intent: 'message', leadId: leadB.leadId }),
    ]);
    expect(await inboundRows(a.tenant.id, phone)).toEqual([]);
    await expect
      .poll(() => enrollmentStatus(stack.app, b.auth, leadB.enrollmentId), { timeout: 20_000 })
      .toBe('replied');
    expect(await enrollment(leadA.enrollmentId)).toMatchObject({ status: 'running', haltedAt: null });
    await request(stack.app).post(`/v1/enrollments/${leadA.enrollmentId}/cancel`).set(a.auth);
  });

  it('goes to the tenant whose text reached the phone, not to one whose later text is held or was refused', async () => {
    const [a, b] = [await tenant(), await tenant()];
    const phone = privatePhone();
    const leadA = await texted(a, phone);
    await outboundRow(b.tenant.id, phone, { status: 'pending', heldReason: 'window' });
    await outboundRow(b.tenant.id, phone, { status: 'failed', errorCode: 21211 });
    await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'Tuesday works for me' });
    await repliedTo(a, b, phone, leadA, 'Tuesday works for me');
  });

  it('goes to the tenant whose text went out last, not the one whose row was written last (a text held for hours before it went)', async () => {
    const [a, b] = [await tenant(), await tenant()];
    const phone = privatePhone();
    const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000);
    // B's text was written and sent an hour ago; A's was written two hours ago, held (a budget, the kill switch) and
    // has just gone out: the lead is answering A.
    await outboundRow(b.tenant.id, phone, { createdAt: hoursAgo(1), claimedAt: hoursAgo(1), sentAt: hoursAgo(1) });
    const leadA = await texted(a, phone);
    await stack.db.message.updateMany({
      where: { enrollmentId: leadA.enrollmentId },
      data: { createdAt: hoursAgo(2) },
    });
    await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'Not interested' });
    await repliedTo(a, b, phone, leadA, 'Not interested');
  });

  it('goes to a tenant whose later text was handed to Twilio and not answered yet (claimed, pending): it may have reached the phone', async () => {
    const [a, b] = [await tenant(), await tenant()];
    const phone = privatePhone();
    await texted(a, phone).then((lead) =>
      request(stack.app).post(`/v1/enrollments/${lead.enrollmentId}/cancel`).set(a.auth),
    );
    await outboundRow(b.tenant.id, phone, { status: 'pending', claimedAt: new Date(), claimedAttempt: 1 });
    await inbound(stack.app, { From: phone, To: testSenderNumber, Body: 'Tuesday works for me' });
    expect(await inboundRows(a.tenant.id, phone)).toEqual([]);
    expect(await inboundRows(b.tenant.id, phone)).toEqual([expect.objectContaining({ body: 'Tuesday works for me' })]);
  });
});

describe('keywords from a lead in a running follow-up are replies too (shared/docs/domain.md)', () => {
  async function leadInFollowUp() {
    const owner = await tenant();
    const number = randomSenderNumber();
    await stack.db.tenantSender.create({ data: { tenantId: owner.tenant.id, value: number } });
    const phone = privatePhone();
    return { owner, number, phone, lead: await texted(owner, phone) };
  }

  it('a bare "Yes" ends the follow-up as replied and sends no "subscribed again" text; the intent is stored', async () => {
    const { owner, number, phone, lead } = await leadInFollowUp();
    const response = await inbound(stack.app, { From: phone, To: number, Body: 'Yes' });
    expect(response.text).not.toContain('<Message>');
    expect(await enrollment(lead.enrollmentId)).toMatchObject({ haltedBy: 'replied' });
    await expect
      .poll(() => enrollmentStatus(stack.app, owner.auth, lead.enrollmentId), { timeout: 20_000 })
      .toBe('replied');
    expect((await inboundRows(owner.tenant.id, phone)).map((row) => row.intent)).toEqual(['opt_in']);
    expect(
      await stack.db.message.count({
        where: { tenantId: owner.tenant.id, toPhone: phone, body: { contains: 'subscribed again' } },
      }),
    ).toBe(0);
  });

  it('HELP is answered with the help text and ends the follow-up as replied', async () => {
    const { owner, number, phone, lead } = await leadInFollowUp();
    const response = await inbound(stack.app, { From: phone, To: number, Body: 'Info' });
    expect(response.text).toContain('Reply STOP to opt out');
    await expect
      .poll(() => enrollmentStatus(stack.app, owner.auth, lead.enrollmentId), { timeout: 20_000 })
      .toBe('replied');
    expect((await inboundRows(owner.tenant.id, phone)).map((row) => row.intent)).toEqual(['help']);
  });

  it('START from a phone that never opted out sends nothing, but the consent is logged', async () => {
    const { owner, number, phone } = await leadInFollowUp();
    const response = await inbound(stack.app, { From: phone, To: number, Body: 'START' });
    expect(response.text).not.toContain('<Message>');
    expect(
      await stack.db.consentEvent.findMany({ where: { tenantId: owner.tenant.id, phoneHash: phoneHash(phone) } }),
    ).toEqual([expect.objectContaining({ kind: 'opt_in', source: 'inbound_keyword' })]);
  });

  it('"Yes" from an opted-out phone opts it back in, with the confirmation', async () => {
    const owner = await tenant();
    const number = randomSenderNumber();
    await stack.db.tenantSender.create({ data: { tenantId: owner.tenant.id, value: number } });
    const phone = privatePhone();
    await inbound(stack.app, { From: phone, To: number, Body: 'STOP' });
    expect(await optedOut(owner.tenant.id, phone)).toBe(true);
    const response = await inbound(stack.app, { From: phone, To: number, Body: 'yes!' });
    expect(response.text).toContain('Acme Dental: you are subscribed again');
    expect(await optedOut(owner.tenant.id, phone)).toBe(false);
    expect((await inboundRows(owner.tenant.id, phone)).map((row) => row.intent).sort()).toEqual(['opt_in', 'opt_out']);
  });

  it('with Advanced Opt-Out, Twilio’s OptOutType=STOP on a keyword of the tenant’s own is an opt-out that Twilio confirms, not us', async () => {
    const owner = await createTenant(stack.db, { ...anytimeSettings, twilioAdvancedOptOut: true });
    const number = randomSenderNumber();
    await stack.db.tenantSender.create({ data: { tenantId: owner.tenant.id, value: number } });
    const phone = privatePhone();
    const response = await postWebhook(stack.app, '/webhooks/twilio/inbound', {
      MessageSid: messageSid(),
      From: phone,
      To: number,
      Body: 'ARRET',
      OptOutType: 'STOP',
    });
    expect(response.text).not.toContain('<Message>');
    expect(await optedOut(owner.tenant.id, phone)).toBe(true);
  });
});

describe('senders belong to the operator', () => {
  const operatorKey = `op_${randomBytes(24).toString('hex')}`;
  const operatorApp = () => createApp({ ...stack.deps, operatorApiKey: operatorKey });
  const asOperator = { Authorization: `Bearer ${operatorKey}` };

  /** A number of `from`'s that has texted a phone, then moved to `to`. */
  async function movedAfterTexting(app: ReturnType<typeof operatorApp>, from: TestTenant, to: TestTenant) {
    const number = randomSenderNumber();
    const assign = (tenantId: string, reassign: boolean) =>
      request(app)
        .put(`/v1/operator/senders/${encodeURIComponent(number)}`)
        .set(asOperator)
        .send({ tenantId, reassign });
    expect((await assign(from.tenant.id, false)).status).toBe(200);
    const phone = privatePhone();
    const lead = await texted(from, phone);
    expect((await assign(to.tenant.id, true)).body).toMatchObject({
      tenantId: to.tenant.id,
      previousTenantId: from.tenant.id,
    });
    return { number, phone, lead };
  }

  it('assigned again to its owner named in capitals is unchanged, not taken by another tenant', async () => {
    const owner = await tenant();
    const assign = (tenantId: string) =>
      request(operatorApp())
        .put(`/v1/operator/senders/${encodeURIComponent(number)}`)
        .set(asOperator)
        .send({ tenantId });
    const number = randomSenderNumber();
    expect((await assign(owner.tenant.id)).body.changed).toBe(true);
    // Before: 409 sender_taken, naming the owner itself.
    const again = await assign(owner.tenant.id.toUpperCase());
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ tenantId: owner.tenant.id, changed: false });
  });

  it('a STOP to a number moved to another tenant reaches its owner and the tenant that texted the phone from it', async () => {
    const [a, b] = [await tenant(), await tenant()];
    const { number, phone, lead } = await movedAfterTexting(operatorApp(), a, b);
    await inbound(stack.app, { From: phone, To: number, Body: 'Stop texting me' });
    expect(await optedOut(a.tenant.id, phone)).toBe(true);
    expect(await optedOut(b.tenant.id, phone)).toBe(true);
    await expect
      .poll(() => enrollmentStatus(stack.app, a.auth, lead.enrollmentId), { timeout: 20_000 })
      .toBe('opted_out');
  });

  it('a reply to a number moved to another tenant answers the tenant still following the lead up from it; then the owner gets them', async () => {
    const [a, b] = [await tenant(), await tenant()];
    const { number, phone, lead } = await movedAfterTexting(operatorApp(), a, b);
    // b owns the number but never texted the phone, and a's follow-up of the lead is running: the reply is a's lead's,
    // and ends a's follow-up (before: b got it, and a's follow-up went on texting a lead who had answered).
    await inbound(stack.app, { From: phone, To: number, Body: 'hello?' });
    await repliedTo(a, b, phone, lead, 'hello?');
    // The lead's next words are about the same thing: they reach a too, for a day after the reply.
    await inbound(stack.app, { From: phone, To: number, Body: 'yes, call me at 3' });
    expect((await inboundRows(a.tenant.id, phone)).map((row) => row.body)).toEqual(['hello?', 'yes, call me at 3']);
    expect(await inboundRows(b.tenant.id, phone)).toEqual([]);
    // A day on, with nothing running, the number's owner gets the next, as every other message to it.
    await stack.db.enrollment.update({
      where: { id: lead.enrollmentId },
      data: { haltedAt: new Date(Date.now() - 25 * 3_600_000) },
    });
    await inbound(stack.app, { From: phone, To: number, Body: 'and you are?' });
    expect((await inboundRows(b.tenant.id, phone)).map((row) => row.body)).toEqual(['and you are?']);
  });

  it('a sender the operator moves to another tenant takes a new phone’s messages along; once unassigned, a STOP reaches the tenant that texted the phone from it', async () => {
    const [a, b] = [await tenant(), await tenant()];
    const app = operatorApp();
    const { number, phone, lead } = await movedAfterTexting(app, a, b);
    // Owned now by b: a phone nobody texted from it writes to b.
    const stranger = privatePhone();
    await inbound(stack.app, { From: stranger, To: number, Body: 'hello?' });
    expect(await inboundRows(b.tenant.id, stranger)).toHaveLength(1);
    // Unassigned: the number is nobody's, and a STOP reaches the tenant that texted from it.
    expect(
      (
        await request(app)
          .delete(`/v1/operator/senders/${encodeURIComponent(number)}`)
          .set(asOperator)
      ).status,
    ).toBe(200);
    await inbound(stack.app, { From: phone, To: number, Body: 'STOP' });
    expect(await optedOut(a.tenant.id, phone)).toBe(true);
    await expect
      .poll(() => enrollmentStatus(stack.app, a.auth, lead.enrollmentId), { timeout: 20_000 })
      .toBe('opted_out');
  });
});
