import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { claimRow, workflowInput } from '../../api/enrollment-starter.js';
import { pauseSending, resumeSending } from '../../common/capacity/pauses.js';
import { lockConversation } from '../../common/conversation.js';
import type { Db } from '../../common/db.js';
import type { leadFollowUp } from '../../workflows/lead-follow-up.js';
import {
  appointmentBookedSignal,
  inboundReplySignal,
  leadFollowUpWorkflowId,
  leadFollowUpWorkflowType,
  optOutSignal,
  pauseUpdate,
  resumeUpdate,
  skipToStepUpdate,
  statusQuery,
  undeliverableSignal,
  type LeadFollowUpInput,
  type SequenceStep,
} from '../../workflows/lead-follow-up.messages.js';

export interface ScenarioContext {
  client: Client;
  db: Db;
  taskQueue: string;
}

export interface Scenario {
  name: string;
  /** Runs the scenario and returns the workflow (its latest run, or the run named) whose history is kept. */
  run(context: ScenarioContext): Promise<string | { workflowId: string; runId: string }>;
}

/** The name every scenario's lead has: the redaction replaces it in the captured history. */
export const scenarioLeadName = 'Ada';

/** A tenant (open all day unless `window` says otherwise, no gap) and its lead. */
export async function tenantAndLead({ db }: ScenarioContext, window = { windowStart: '00:00', windowEnd: '24:00' }) {
  const tenant = await db.tenant.create({
    data: { name: `history-${randomUUID()}`, businessName: 'Acme Dental', ...window, minGapSeconds: 0 },
  });
  const lead = await db.lead.create({
    data: {
      tenantId: tenant.id,
      phone: `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`,
      firstName: scenarioLeadName,
      timeZone: 'Europe/London',
    },
  });
  return { tenant, lead };
}

export async function startFollowUp(
  context: ScenarioContext,
  steps: SequenceStep[],
  owner: Awaited<ReturnType<typeof tenantAndLead>>,
  overrides: Partial<LeadFollowUpInput> = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof leadFollowUp>> {
  const { db, client, taskQueue } = context;
  const { tenant, lead } = owner;
  const sequence = await db.sequenceDefinition.create({
    data: { tenantId: tenant.id, name: 'history', version: 1, steps: steps as object[] },
  });
  const input = { ...workflowInput(tenant, lead, sequence, randomUUID()), ...overrides };
  return client.workflow.start<typeof leadFollowUp>(leadFollowUpWorkflowType, {
    taskQueue,
    workflowId: leadFollowUpWorkflowId(tenant.id, lead.id),
    args: [input],
  });
}

async function start(
  context: ScenarioContext,
  steps: SequenceStep[],
  overrides: Partial<LeadFollowUpInput> = {},
  window = { windowStart: '00:00', windowEnd: '24:00' },
): Promise<WorkflowHandle<typeof leadFollowUp>> {
  return startFollowUp(context, steps, await tenantAndLead(context, window), overrides);
}

/** Polls `probe` every 100 ms, for 10 s at most. */
export async function eventually<T>(probe: () => Promise<T | null | undefined | false>, what: string): Promise<T> {
  for (let tries = 0; tries <= 100; tries += 1) {
    const value = await probe();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`never: ${what}`);
}

/** Until the handle's first run has continued as new (the capture's server suggests it after 100 events). */
export async function untilContinuedAsNew(
  { client }: ScenarioContext,
  { workflowId, firstExecutionRunId }: WorkflowHandleWithFirstExecutionRunId,
): Promise<void> {
  const firstRun = client.workflow.getHandle(workflowId, firstExecutionRunId);
  for (let waited = 0; (await firstRun.describe()).status.name !== 'CONTINUED_AS_NEW'; waited += 1) {
    if (waited > 300) throw new Error(`${workflowId} never continued as new`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** A follow-up whose step the kill switch holds until its run continues as new; then sending resumes and it ends. */
async function heldUntilContinued(
  context: ScenarioContext,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof leadFollowUp>> {
  const owner = await tenantAndLead(context);
  await pauseSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
  const handle = await startFollowUp(context, [first], owner);
  await untilContinuedAsNew(context, handle);
  await resumeSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
  const state = await handle.result();
  if (state.status !== 'completed' || state.messagesSent !== 1) throw new Error(`ended ${JSON.stringify(state)}`);
  return handle;
}

const untilSent = (handle: WorkflowHandle<typeof leadFollowUp>, count: number) =>
  eventually(
    async () => (await handle.query(statusQuery)).messagesSent >= count,
    `${handle.workflowId} to send ${count} messages`,
  );
/** A one-hour window two hours from now, in the lead's zone (Europe/London): closed whenever this runs. */
function windowClosedNow(): { windowStart: string; windowEnd: string } {
  const hour = Number(
    new Intl.DateTimeFormat('en-GB', { hour: '2-digit', hourCycle: 'h23', timeZone: 'Europe/London' }).format(
      new Date(),
    ),
  );
  const at = (offset: number) => `${String((hour + offset) % 24).padStart(2, '0')}:00`;
  return (hour + 3) % 24 > (hour + 2) % 24
    ? { windowStart: at(2), windowEnd: at(3) }
    : { windowStart: '01:00', windowEnd: '02:00' };
}
const later = { delaySeconds: 3600, template: 'Still interested, {{firstName}}?' };
const first = { delaySeconds: 0, template: 'Hi {{firstName}}, thanks for contacting {{businessName}}.' };

async function endedBySignal(
  context: ScenarioContext,
  signal: (handle: WorkflowHandle<typeof leadFollowUp>) => Promise<void>,
): Promise<string> {
  const handle = await start(context, [first, later]);
  await untilSent(handle, 1);
  await signal(handle);
  await handle.result();
  return handle.workflowId;
}

/** A two-step follow-up given a signal after its first message that must not end it: it sends both and completes. */
async function completedDespite(
  context: ScenarioContext,
  signal: (handle: WorkflowHandle<typeof leadFollowUp>) => Promise<void>,
): Promise<string> {
  const handle = await start(context, [first, { delaySeconds: 2, template: 'Book here' }]);
  await untilSent(handle, 1);
  await signal(handle);
  const state = await handle.result();
  if (state.status !== 'completed' || state.messagesSent !== 2) throw new Error(`ended ${JSON.stringify(state)}`);
  return handle.workflowId;
}

export const leadFollowUpScenarios: Scenario[] = [
  {
    name: 'completed',
    async run(context) {
      const handle = await start(context, [first, { delaySeconds: 1, template: 'Book here' }]);
      await handle.result();
      return handle.workflowId;
    },
  },
  {
    name: 'replied',
    run: (context) =>
      endedBySignal(context, (handle) => handle.signal(inboundReplySignal, { messageSid: `SM${'0'.repeat(32)}` })),
  },
  {
    name: 'opted-out',
    run: (context) => endedBySignal(context, (handle) => handle.signal(optOutSignal, { source: 'inbound_keyword' })),
  },
  {
    name: 'undeliverable',
    run: (context) =>
      endedBySignal(context, (handle) =>
        handle.signal(undeliverableSignal, { errorCode: 30006, messageSid: `SM${'0'.repeat(32)}` }),
      ),
  },
  {
    name: 'booked',
    run: (context) =>
      endedBySignal(context, (handle) => handle.signal(appointmentBookedSignal, { appointmentId: randomUUID() })),
  },
  {
    name: 'expired',
    async run(context) {
      const handle = await start(context, [first, later], { expiresAfterSeconds: 2 });
      await handle.result();
      return handle.workflowId;
    },
  },
  {
    name: 'cancelled',
    async run(context) {
      const handle = await start(context, [first, later]);
      await untilSent(handle, 1);
      await handle.cancel();
      await handle.result().catch(() => undefined);
      return handle.workflowId;
    },
  },
  {
    name: 'paused-resumed-skipped',
    async run(context) {
      const handle = await start(context, [later, later, { delaySeconds: 0, template: 'Last one' }]);
      await handle.executeUpdate(pauseUpdate);
      await handle.executeUpdate(resumeUpdate);
      await handle.executeUpdate(skipToStepUpdate, { args: [{ step: 2 }] });
      await handle.result();
      return handle.workflowId;
    },
  },
  {
    // Recorded after the WaitingFor search attribute was added behind patched(): the marker is in this history.
    name: 'waiting-for-window',
    async run(context) {
      const handle = await start(context, [first], {}, windowClosedNow());
      for (let tries = 0; (await handle.query(statusQuery)).waitingFor !== 'window'; tries += 1) {
        if (tries > 100) throw new Error('never waited for the window');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch follow-gate-policy: enrolled with a window open all day, the tenant's window is now closed
    // (as after a settings change or the lead's move to another zone); the gate holds the step `window` with the policy
    // it judged by, and the run waits for that window's opening, planning with it from then on.
    name: 'held-by-window-changed-since-enrollment',
    async run(context) {
      const enrolledWith = { timeZone: 'Europe/London', window: { start: '00:00', end: '24:00' }, minGapSeconds: 0 };
      const owner = await tenantAndLead(context, windowClosedNow());
      const handle = await startFollowUp(context, [first], owner, {
        policy: { ...enrolledWith, maxPerDay: owner.tenant.maxPerDay },
      });
      await eventually(async () => (await handle.query(statusQuery)).hold?.reason === 'window', 'the hold');
      return handle.workflowId;
    },
  },
  {
    // A first step with A/B variants (issue 17): the send activity picks the variant, so the workflow's commands are
    // those of any other step and older code replays this history too.
    name: 'ab-variant-step',
    async run(context) {
      const variants = [
        { template: first.template, weight: 1 },
        { template: 'Hello {{firstName}}, {{businessName}} here. Still looking?', weight: 1 },
      ];
      const handle = await start(context, [{ ...first, variants }, later]);
      await untilSent(handle, 1);
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch record-start-local-activity: the start's record is a local activity, then the first send.
    name: 'started-by-local-activity',
    async run(context) {
      const handle = await start(context, [first, later]);
      await untilSent(handle, 1);
      return handle.workflowId;
    },
  },
  {
    name: 'sleeping',
    async run(context) {
      const handle = await start(context, [first, later]);
      await untilSent(handle, 1);
      return handle.workflowId;
    },
  },
  {
    // Recorded with the send gate's holds (patch send-gate-holds): the step is held by the kill switch, then goes.
    name: 'held-by-kill-switch',
    async run(context) {
      const owner = await tenantAndLead(context);
      await pauseSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
      const handle = await startFollowUp(context, [first], owner);
      await eventually(async () => (await handle.query(statusQuery)).hold, 'a hold');
      await resumeSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
      await handle.result();
      return handle.workflowId;
    },
  },
  {
    // A reply recorded in PostgreSQL whose signal never came: the send gate refuses the step and the run closes.
    name: 'halted-by-send-gate',
    async run(context) {
      const handle = await start(context, [{ ...first, delaySeconds: 2 }]);
      const { enrollmentId } = await enrollmentOf(context, handle.workflowId);
      await context.db.enrollment.update({
        where: { id: enrollmentId },
        data: { haltedAt: new Date(), haltedBy: 'replied' },
      });
      await handle.result();
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch continue-as-new (the capture's server suggests it after 100 events): the step is held by
    // the kill switch until the run goes on in a new one. This is the first run, which ends continued as new.
    name: 'held-then-continued-as-new',
    async run(context) {
      const { workflowId, firstExecutionRunId } = await heldUntilContinued(context);
      return { workflowId, runId: firstExecutionRunId };
    },
  },
  {
    // The run it continued in: it records no start, sends the held step once sending resumes, and completes.
    name: 'continued-run-completes',
    async run(context) {
      return (await heldUntilContinued(context)).workflowId;
    },
  },
  {
    // Recorded with patch hold-until-expiry: the kill switch holds the step past the enrollment's expiry (3 s here),
    // and the run closes expired at the expiry.
    name: 'held-past-expiry',
    async run(context) {
      const owner = await tenantAndLead(context);
      await pauseSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
      const handle = await startFollowUp(context, [first], owner, { expiresAfterSeconds: 3 });
      const state = await handle.result();
      await resumeSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
      if (state.status !== 'expired') throw new Error(`ended ${state.status}`);
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch enrollment-scoped-signals asked at the STOP, as every release since 28a3ece asks it: a STOP
    // meant for an earlier enrollment of the lead (delivered late) leaves the run going; the reply naming this
    // enrollment ends it. leadFollowUp/ignored-earlier-stop-unpatched.json is the same run recorded by 4592d11.
    name: 'ignores-earlier-enrollment-signal',
    run: (context) =>
      endedBySignal(context, async (handle) => {
        await handle.signal(optOutSignal, { source: 'inbound_keyword', enrollmentId: randomUUID() });
        const { enrollmentId } = await enrollmentOf(context, handle.workflowId);
        await handle.signal(inboundReplySignal, { messageSid: `SM${'1'.repeat(32)}`, enrollmentId });
      }),
  },
  {
    // Recorded with patch enrollment-scoped-signals: a booking made from an earlier enrollment of the lead leaves the
    // run going, and it sends its next step and completes.
    name: 'ignores-booking-for-earlier-enrollment',
    run: (context) =>
      completedDespite(context, (handle) =>
        handle.signal(appointmentBookedSignal, { appointmentId: randomUUID(), enrollmentId: randomUUID() }),
      ),
  },
  {
    // Recorded with patch enrollment-scoped-signals: a STOP and then a booking meant for earlier enrollments; the
    // patch is asked at the STOP (its marker there) and answered from memory at the booking. The run completes.
    name: 'ignores-earlier-stop-then-booking',
    run: (context) =>
      completedDespite(context, async (handle) => {
        await handle.signal(optOutSignal, { source: 'inbound_keyword', enrollmentId: randomUUID() });
        await handle.signal(appointmentBookedSignal, { appointmentId: randomUUID(), enrollmentId: randomUUID() });
      }),
  },
  {
    // The same the other way round: the marker comes with the booking, the STOP after it asks again.
    name: 'ignores-earlier-booking-then-stop',
    run: (context) =>
      completedDespite(context, async (handle) => {
        await handle.signal(appointmentBookedSignal, { appointmentId: randomUUID(), enrollmentId: randomUUID() });
        await handle.signal(optOutSignal, { source: 'inbound_keyword', enrollmentId: randomUUID() });
      }),
  },
  {
    // Recorded with patch halted-before-start: the enrollment's claim was cancelled while its start was under way, so
    // the run, told so by its record of the start, ends at once as cancelled instead of an hour later at its step.
    name: 'halted-before-start',
    async run(context) {
      const { handle } = await startClaimed(context, later, { haltedAt: new Date(), haltedBy: 'cancelled' });
      const state = await handle.result();
      if (state.status !== 'cancelled') throw new Error(`the run ended ${state.status}`);
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch retry-past-expiry: the step's message is claimed by an attempt still at Twilio (its row
    // written before the run, claimed a moment ago), so the send looks again a minute later, past the enrollment's
    // expiry (3 s here): Temporal gives up on it at once, and the run closes expired, not failed.
    name: 'retry-past-expiry',
    async run(context) {
      const { handle } = await startClaimed(
        context,
        first,
        {},
        { expiresAfterSeconds: 3 },
        async (owner, enrollmentId) => {
          await context.db.message.create({
            data: {
              tenantId: owner.tenant.id,
              leadId: owner.lead.id,
              enrollmentId,
              direction: 'outbound',
              toPhone: owner.lead.phone,
              body: 'claimed elsewhere',
              status: 'pending',
              idempotencyKey: `${enrollmentId}:0`,
              claimedAttempt: 1,
              claimedAt: new Date(),
            },
          });
        },
      );
      const state = await handle.result();
      if (state.status !== 'expired') throw new Error(`the run ended ${state.status}: ${state.closedReason}`);
      return handle.workflowId;
    },
  },
  {
    // Recorded with patch change-during-held-send: the lead replies while the first send waits for the conversation's
    // lock (held here), the kill switch turns on meanwhile, so the send comes back held; the run ends replied at once.
    name: 'reply-during-held-send',
    async run(context) {
      const owner = await tenantAndLead(context);
      let release = () => {};
      const released = new Promise<void>((resolve) => (release = resolve));
      const holding = context.db.$transaction(
        async (tx) => {
          await lockConversation(tx, owner.tenant.id, owner.lead.phone);
          await released;
        },
        { timeout: 60_000 },
      );
      const handle = await startFollowUp(context, [first], owner);
      await eventually(() => context.db.message.count({ where: { leadId: owner.lead.id } }), 'the first send’s row');
      await pauseSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
      const { enrollmentId } = await enrollmentOf(context, handle.workflowId);
      await handle.signal(inboundReplySignal, { messageSid: `SM${'2'.repeat(32)}`, enrollmentId });
      await eventually(async () => (await handle.query(statusQuery)).status === 'replied', 'the reply taken');
      release();
      await holding;
      const state = await handle.result();
      await resumeSending(context.db, { scope: owner.tenant.id, actor: 'history-capture' });
      if (state.status !== 'replied') throw new Error(`the run ended ${state.status}: ${state.closedReason}`);
      return handle.workflowId;
    },
  },
];

/**
 * A one-step follow-up started as the API starts one: its enrollment row claimed first (with `claim`'s columns), then
 * `before` (rows the run will find), then the run.
 */
async function startClaimed(
  context: ScenarioContext,
  step: SequenceStep,
  claim: { haltedAt?: Date; haltedBy?: string },
  overrides: Partial<LeadFollowUpInput> = {},
  before: (owner: Awaited<ReturnType<typeof tenantAndLead>>, enrollmentId: string) => Promise<void> = async () => {},
) {
  const owner = await tenantAndLead(context);
  const sequence = await context.db.sequenceDefinition.create({
    data: { tenantId: owner.tenant.id, name: 'history', version: 1, steps: [step] as object[] },
  });
  const enrollmentId = randomUUID();
  await context.db.enrollment.create({
    data: { ...claimRow(owner.tenant, owner.lead, sequence, enrollmentId, new Date()), ...claim },
  });
  await before(owner, enrollmentId);
  const handle = await context.client.workflow.start<typeof leadFollowUp>(leadFollowUpWorkflowType, {
    taskQueue: context.taskQueue,
    workflowId: leadFollowUpWorkflowId(owner.tenant.id, owner.lead.id),
    args: [{ ...workflowInput(owner.tenant, owner.lead, sequence, enrollmentId), ...overrides }],
  });
  return { handle };
}

const enrollmentOf = (context: ScenarioContext, workflowId: string) =>
  eventually(
    async () => (await context.db.enrollment.findFirst({ where: { workflowId }, select: { id: true } }))?.id,
    'the enrollment row',
  ).then((enrollmentId) => ({ enrollmentId }));
