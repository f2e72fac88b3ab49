// The worst interleavings of common/lock-order.ts's writers: a STOP that holds the tenant's event lock and then halts
// an enrollment, while that enrollment's start or close is recorded. Taken in opposite orders, PostgreSQL ends one of
// the two with a deadlock after a second (a 500 for the STOP's API call or webhook); here both commit.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createEnrollmentActivities } from '../../activities/enrollments.js';
import { lockConversation } from '../../common/conversation.js';
import { recordOptOut } from '../../common/opt-outs.js';
import { queueSignalsForPhone, signalNames } from '../../common/pending-signals.js';
import { createTenant, enrolledLead } from '../support/fixtures.js';
import { stackForFile } from '../support/stack.js';
import { untilOneWaitsForEventLock } from '../support/wait.js';

const stack = stackForFile();

/**
 * An opt-out as POST /v1/opt-outs records it, stopped between its event (the event lock taken) and its halt of the
 * phone's enrollments until `release` is called. Resolves once the event lock is held.
 */
async function optOutHeldAfterItsEvent(tenantId: string, phone: string) {
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  let signalHeld = () => {};
  const held = new Promise<void>((resolve) => (signalHeld = resolve));
  const committed = stack.db.$transaction(
    async (tx) => {
      await lockConversation(tx, tenantId, phone);
      await recordOptOut(tx, { tenantId, phone, source: 'crm' });
      signalHeld();
      await released;
      await queueSignalsForPhone(tx, tenantId, phone, { signal: signalNames.optOut, payload: { source: 'crm' } });
    },
    { timeout: 30_000 },
  );
  await Promise.race([held, committed]);
  return { release, committed };
}

/** The enrollment's row and the tenant's events once both commit. */
async function afterBoth(tenantId: string, enrollmentId: string) {
  const enrollment = await stack.db.enrollment.findUniqueOrThrow({ where: { id: enrollmentId } });
  const events = await stack.db.event.findMany({ where: { tenantId }, orderBy: { sequence: 'asc' } });
  return { enrollment, eventTypes: events.map((event) => event.type) };
}

describe('lock order', () => {
  it("a STOP halting an enrollment whose start's record waits for the event lock: both commit", async () => {
    const { tenant } = await createTenant(stack.db);
    const { lead, enrollment } = await enrolledLead(stack.db, tenant.id);
    const stop = await optOutHeldAfterItsEvent(tenant.id, lead.phone);
    const recording = createEnrollmentActivities({ db: stack.db }).recordEnrollmentStarted({
      enrollmentId: enrollment.id,
      tenantId: tenant.id,
      leadId: lead.id,
      sequenceId: enrollment.sequenceId,
      workflowId: enrollment.workflowId,
      runId: randomUUID(),
      idempotencyKey: null,
    });
    await untilOneWaitsForEventLock(stack.db);
    stop.release();
    await Promise.all([stop.committed, recording]);

    expect(await afterBoth(tenant.id, enrollment.id)).toMatchObject({
      enrollment: { status: 'running', haltedBy: 'opted_out' },
      eventTypes: ['lead.opted_out', 'enrollment.started'],
    });
  });

  it('a STOP halting an enrollment whose close waits for the event lock: both commit', async () => {
    const { tenant } = await createTenant(stack.db);
    const { lead, enrollment } = await enrolledLead(stack.db, tenant.id);
    const stop = await optOutHeldAfterItsEvent(tenant.id, lead.phone);
    const closing = createEnrollmentActivities({ db: stack.db }).recordEnrollmentOutcome({
      enrollmentId: enrollment.id,
      tenantId: tenant.id,
      leadId: lead.id,
      status: 'completed',
      reason: 'every step sent',
    });
    await untilOneWaitsForEventLock(stack.db);
    stop.release();
    await Promise.all([stop.committed, closing]);

    expect(await afterBoth(tenant.id, enrollment.id)).toMatchObject({
      enrollment: { status: 'completed', haltedBy: 'opted_out' },
      eventTypes: ['lead.opted_out', 'enrollment.closed'],
    });
  });
});
