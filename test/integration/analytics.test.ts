// Issue 17 ("See what works"): the funnel per sequence version, step and A/B variant, kept as the facts happen.
// Leads are enrolled through the API into a sequence whose first step has two variants with a tracked link, the Twilio
// fake sends, status callbacks, a person's and a link preview's clicks, replies, a STOP and bookings arrive as they would
// in production, and the analytics routes must answer exactly what happened.
import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { chooseVariant } from '../../common/analytics/variants.js';
import { Prisma, type EnrollmentStatus } from '../../generated/prisma/client.js';
import { anytimeSettings, createTenant, randomUkMobile } from '../support/fixtures.js';
import { stackForFile } from '../support/stack.js';
import { until } from '../support/wait.js';
import { zoneAtHour } from '../support/zones.js';
import { inbound, randomSenderNumber, statusCallback } from '../support/webhooks.js';

const stack = stackForFile({ shortLinks: true });
const api = () => request(stack.app);
type Auth = Record<string, string>;

const checkUpUrl = 'https://example.com/check-up';
const variants = [
  { template: `Hi {{firstName}}, fancy a free check-up? Reply YES or see {{link:${checkUpUrl}}}`, weight: 1 },
  { template: `{{firstName}}, your free check-up is waiting. Reply to book or see {{link:${checkUpUrl}}}`, weight: 1 },
];
/** What each variant says between the name and its link: how a sent body shows which variant it is. */
const wordingOf = (template: string) => template.split('}}')[1]?.split('{{')[0] ?? '';
const iPhone =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';
const whatsAppPreview = 'WhatsApp/2.23.20.0 A';

async function enrollLeads(auth: Auth, sequenceId: string, count: number) {
  const leads = [];
  for (let i = 0; i < count; i += 1) {
    const phone = randomUkMobile().e164;
    const lead = await api()
      .post('/v1/leads')
      .set(auth)
      .send({ phone, firstName: `Lead${i}` });
    expect(lead.status).toBe(201);
    const enrollment = await api().post('/v1/enrollments').set(auth).send({ leadId: lead.body.id, sequenceId });
    expect(enrollment.status).toBe(202);
    leads.push({ phone, leadId: lead.body.id as string, enrollmentId: enrollment.body.id as string });
  }
  return leads;
}

const closedAs = (enrollmentId: string, status: EnrollmentStatus) =>
  until(
    async () => (await stack.db.enrollment.findFirst({ where: { id: enrollmentId, status } })) ?? null,
    `enrollment ${enrollmentId} ${status}`,
    30_000,
  );

const v = (template: string, weight = 1) => ({ template, weight });

describe('funnel analytics', () => {
  it('counts enrollments, sends, deliveries, a person’s click (not a preview’s), replies, bookings and an opt-out per step and per variant, once each', async () => {
    // A zone where it is midday now, so the report's one day holds everything whenever the test runs.
    const { tenant, auth } = await createTenant(stack.db, { ...anytimeSettings, defaultTimeZone: zoneAtHour(12) });
    const sender = randomSenderNumber();
    await stack.db.tenantSender.create({ data: { tenantId: tenant.id, value: sender } });
    const created = await api()
      .post('/v1/sequences')
      .set(auth)
      .send({
        name: `ab-${randomUUID()}`,
        steps: [
          { delaySeconds: 0, variants },
          { delaySeconds: 86_400, template: 'Last chance, {{firstName}}' },
        ],
      });
    expect(created.status).toBe(201);
    expect(created.body.steps[0]).toMatchObject({ template: variants[0]?.template, variants });
    const sequenceId = created.body.id as string;

    const leads = await enrollLeads(auth, sequenceId, 8);
    for (const lead of leads) await until(() => stack.fake.createCallsTo(lead.phone) === 1 || null, 'a first message');
    // Twilio takes a message before the activity records it (its SID and the sent event, in one transaction).
    await until(
      async () =>
        (await stack.db.message.count({ where: { tenantId: tenant.id, twilioSid: { not: null } } })) === 8 || null,
      'all eight recorded as sent',
    );
    const messages = await stack.db.message.findMany({
      where: { tenantId: tenant.id, direction: 'outbound', enrollmentId: { not: null } },
    });
    expect(messages).toHaveLength(8);
    // Each enrollment got the variant its hash picks, and that variant's text.
    const variantOf = new Map<string, string>();
    for (const lead of leads) {
      const message = messages.find((row) => row.enrollmentId === lead.enrollmentId);
      const chosen = chooseVariant(lead.enrollmentId, 0, variants);
      expect(message?.variant).toBe(chosen.label);
      expect(message?.body).toContain(wordingOf(chosen.template));
      variantOf.set(lead.enrollmentId, chosen.label);
    }
    const events = await stack.db.event.findMany({ where: { tenantId: tenant.id, type: 'message.sent' } });
    expect(events.map((event) => (event.data as { variant?: string }).variant).sort()).toEqual(
      [...variantOf.values()].sort(),
    );

    const sidOf = (index: number) =>
      messages.find((row) => row.enrollmentId === leads[index]?.enrollmentId)?.twilioSid ?? '';
    // Leads 0-5 delivered (lead 0's callback twice, as Twilio retries), lead 6 undelivered, lead 7 never heard of.
    for (const index of [0, 0, 1, 2, 3, 4, 5])
      expect((await statusCallback(stack.app, { MessageSid: sidOf(index), MessageStatus: 'delivered' })).status).toBe(
        200,
      );
    await statusCallback(stack.app, { MessageSid: sidOf(6), MessageStatus: 'undelivered', ErrorCode: '30003' });

    // Lead 0 taps its link twice (one human click counted once); lead 1's link is fetched by WhatsApp's preview only.
    const linkOf = (index: number) => {
      const body = messages.find((row) => row.enrollmentId === leads[index]?.enrollmentId)?.body ?? '';
      return new URL(/https:\/\/\S+\/l\/\w+/.exec(body)?.[0] ?? 'https://missing.invalid/').pathname;
    };
    for (const [index, agent] of [
      [0, iPhone],
      [0, iPhone],
      [1, whatsAppPreview],
    ] as const) {
      const click = await api().get(linkOf(index)).set('User-Agent', agent);
      expect(click.status).toBe(302);
      expect(click.headers.location).toBe(checkUpUrl);
    }
    const clicks = await stack.db.linkClick.findMany({ where: { tenantId: tenant.id } });
    expect(clicks.map(({ agentClass, human, variant }) => [agentClass, human, variant]).sort()).toEqual(
      [
        ['browser', true, variantOf.get(leads[0]?.enrollmentId ?? '')],
        ['browser', true, variantOf.get(leads[0]?.enrollmentId ?? '')],
        ['bot', false, variantOf.get(leads[1]?.enrollmentId ?? '')],
      ].sort(),
    );

    type Lead = (typeof leads)[number];
    const [l0, l1, l2, l3, l4] = leads as [Lead, Lead, Lead, Lead, Lead, ...Lead[]];
    // Replies from 0, 1 and 2 (lead 1 twice), a STOP from 3; 0 is then booked from its enrollment, 4 booked directly.
    for (const [lead, body] of [
      [l0, 'Yes please'],
      [l1, 'Maybe next week'],
      [l1, 'Actually yes'],
      [l2, 'Who is this?'],
      [l3, 'STOP'],
    ] as const)
      expect((await inbound(stack.app, { From: lead.phone, To: sender, Body: body })).status).toBe(200);
    await closedAs(l0.enrollmentId, 'replied');
    await closedAs(l3.enrollmentId, 'opted_out');
    const startsAt = new Date(Date.now() + 2 * 86_400_000).toISOString();
    for (const booking of [
      { enrollmentId: l0.enrollmentId, startsAt },
      { leadId: l4.leadId, startsAt },
    ])
      expect((await api().post('/v1/appointments').set(auth).send(booking)).status).toBe(201);
    await closedAs(l4.enrollmentId, 'booked');
    await until(
      async () =>
        (await stack.db.appointment.count({ where: { tenantId: tenant.id, runId: { not: null } } })) === 2 || null,
      'both appointments recorded by their workflows',
    );

    const today = DateTime.now().setZone(tenant.defaultTimeZone).toISODate() ?? '';
    const report = await api().get(`/v1/analytics/sequences/${sequenceId}?from=${today}&to=${today}`).set(auth);
    expect(report.status).toBe(200);
    const sentCost = messages.reduce((sum, row) => sum.plus(row.cost ?? 0), new Prisma.Decimal(0));
    const expectedTotals = {
      enrolled: 8,
      sent: 8,
      delivered: 6,
      failed: 1,
      clicked: 1,
      replied: 3,
      booked: 2,
      optedOut: 1,
      expired: 0,
      completed: 0,
      rates: { delivered: 6 / 8, clicked: 1 / 8, replied: 3 / 8, booked: 2 / 8, optedOut: 1 / 8 },
      cost: {
        currency: 'USD',
        total: sentCost.toFixed(4),
        perReply: sentCost.dividedBy(3).toFixed(4),
        perBooking: sentCost.dividedBy(2).toFixed(4),
      },
    };
    expect(report.body).toMatchObject({
      sequenceId,
      from: today,
      to: today,
      timeZone: tenant.defaultTimeZone,
      totals: expectedTotals,
      days: [{ date: today, sent: 8, delivered: 6, clicked: 1, replied: 3, booked: 2, optedOut: 1 }],
    });
    // Everything answered step 0 (the only one sent); enrollments are counted on the sequence, not a step.
    const [step0, step1] = report.body.steps;
    expect(report.body.steps).toHaveLength(2);
    expect(step0).toMatchObject({ version: 1, step: 0, totals: { ...expectedTotals, enrolled: 0 } });
    expect(step1).toMatchObject({
      version: 1,
      step: 1,
      totals: { sent: 0, replied: 0 },
      variants: [],
      comparisons: [],
    });

    // Per variant: what the leads who got it did.
    const did = {
      delivered: [0, 1, 2, 3, 4, 5],
      failed: [6],
      clicked: [0],
      replied: [0, 1, 2],
      booked: [0, 4],
      optedOut: [3],
    };
    const countFor = (label: string, indexes: number[]) =>
      indexes.filter((index) => variantOf.get(leads[index]?.enrollmentId ?? '') === label).length;
    for (const label of ['A', 'B']) {
      const sent = countFor(label, [0, 1, 2, 3, 4, 5, 6, 7]);
      const variant = step0.variants.find((entry: { variant: string }) => entry.variant === label);
      expect(variant, label).toMatchObject({
        weight: 1,
        totals: {
          enrolled: 0,
          sent,
          delivered: countFor(label, did.delivered),
          failed: countFor(label, did.failed),
          clicked: countFor(label, did.clicked),
          replied: countFor(label, did.replied),
          booked: countFor(label, did.booked),
          optedOut: countFor(label, did.optedOut),
        },
      });
    }
    expect(step0.comparisons).toEqual([
      {
        a: 'A',
        b: 'B',
        replyRate: expect.objectContaining({ ci95: null, pValue: null, verdict: 'too_small' }),
        bookingRate: expect.objectContaining({ ci95: null, pValue: null, verdict: 'too_small' }),
      },
    ]);

    const overview = await api().get(`/v1/analytics/overview?from=${today}&to=${today}`).set(auth);
    expect(overview.status).toBe(200);
    expect(overview.body).toMatchObject({
      totals: expectedTotals,
      sequences: [{ sequenceId, name: created.body.name, totals: expectedTotals }],
    });
  });

  it('answers 400 for a bad range and 404 for another tenant’s sequence, and lists every day of a default range', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const other = await createTenant(stack.db, anytimeSettings);
    const sequence = await api()
      .post('/v1/sequences')
      .set(other.auth)
      .send({ name: 'theirs', steps: [{ delaySeconds: 0, template: 'Hi' }] });
    expect((await api().get(`/v1/analytics/sequences/${sequence.body.id}`).set(auth)).status).toBe(404);
    for (const query of [
      'from=2026-13-01',
      'from=2026-11-02&to=2026-11-01',
      'from=2025-01-01&to=2026-11-01',
      'to=yesterday',
    ])
      expect((await api().get(`/v1/analytics/overview?${query}`).set(auth)).body.error.code, query).toBe('bad_request');
    const overview = await api().get('/v1/analytics/overview').set(auth);
    expect(overview.status).toBe(200);
    expect(overview.body.days).toHaveLength(30);
    expect(overview.body.totals).toMatchObject({
      sent: 0,
      rates: { replied: null },
      cost: { total: '0.0000', perReply: null },
    });
  });

  it('takes an A/B step back as read (its template the first variant’s) as the next version', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    const steps = [{ delaySeconds: 0, variants: [v('Hi A'), v('Hi B', 3)] }];
    const created = await api().post('/v1/sequences').set(auth).send({ name: 'ab', steps });
    const read = await api().get(`/v1/sequences/${created.body.id}`).set(auth);
    expect(read.body.steps).toEqual([{ delaySeconds: 0, template: 'Hi A', variants: steps[0]?.variants }]);
    const again = await api().post('/v1/sequences').set(auth).send({ name: 'ab', steps: read.body.steps });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ version: 2, steps: read.body.steps });
  });

  it('refuses variants that are too few, too many, badly weighted or with unknown placeholders', async () => {
    const { auth } = await createTenant(stack.db, anytimeSettings);
    for (const step of [
      { delaySeconds: 0, variants: [v('one')] },
      { delaySeconds: 0, variants: [v('a'), v('b'), v('c'), v('d'), v('e')] },
      { delaySeconds: 0, variants: [v('a'), v('b', 0)] },
      { delaySeconds: 0, variants: [v('a'), v('Hi {{nickname}}')] },
      { delaySeconds: 0, template: 'both', variants: [v('a'), v('b')] },
      { delaySeconds: 0 },
    ]) {
      const answer = await api()
        .post('/v1/sequences')
        .set(auth)
        .send({ name: 'bad', steps: [step] });
      expect(answer.status, JSON.stringify(step)).toBe(422);
      expect(Object.keys(answer.body.error.details.fields)[0]).toMatch(/^steps\.0/);
    }
  });
});
