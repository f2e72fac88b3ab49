import { randomUUID } from 'node:crypto';
import { activityInfo } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities/index.js';
import type { SendStepMessageInput, SendStepMessageResult } from '../../activities/send-step-message.types.js';
import type { RecordEnrollmentOutcomeInput } from '../../activities/enrollments.js';
import { leadFollowUp } from '../../workflows/lead-follow-up.js';
import { optOutSignal, statusQuery, type LeadFollowUpInput, type SequenceStep } from '../../workflows/lead-follow-up.types.js';
import { bundleWorkflows, createTimeSkippingEnv } from '../support/temporal-test-env.js';

const day = 24 * 3600;
let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  [env, workflowBundle] = await Promise.all([createTimeSkippingEnv(), bundleWorkflows()]);
});
afterAll(async () => {
  await env?.teardown();
});

/** Activities faked by type; each send is stamped with the server's (skipped) time it was scheduled at. */
function fakeActivities(sendResult: (input: SendStepMessageInput) => SendStepMessageResult = (input) => ({ outcome: 'sent', messageId: `m${input.step}`, twilioSid: `SM${input.step}` })) {
  const sends: { step: number; at: number }[] = [];
  const outcomes: RecordEnrollmentOutcomeInput[] = [];
  const activities: Activities = {
    async sendStepMessage(input) {
      sends.push({ step: input.step, at: activityInfo().currentAttemptScheduledTimestampMs });
      return sendResult(input);
    },
    async recordEnrollmentStarted() {},
    async recordEnrollmentOutcome(input) {
      outcomes.push(input);
    },
  };
  return { activities, sends, outcomes };
}

function input(steps: SequenceStep[]): LeadFollowUpInput {
  return { tenantId: randomUUID(), leadId: randomUUID(), enrollmentId: randomUUID(), sequence: { id: randomUUID(), name: 'test', version: 1, steps } };
}

async function runWorker<T>(activities: Activities, body: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `test-${randomUUID()}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities });
  return worker.runUntil(body(taskQueue));
}

describe('leadFollowUp', () => {
  it('sends every step after its delay, days apart, then completes', async () => {
    const fake = fakeActivities();
    const start = await env.currentTimeMs();
    const state = await runWorker(fake.activities, (taskQueue) =>
      env.client.workflow.execute(leadFollowUp, {
        taskQueue,
        workflowId: randomUUID(),
        args: [input([{ delaySeconds: 0, template: 'a' }, { delaySeconds: 2 * day, template: 'b' }, { delaySeconds: 3 * day, template: 'c' }])],
      }),
    );
    expect(state).toMatchObject({ status: 'completed', messagesSent: 3, step: 3 });
    expect(fake.sends.map((send) => send.step)).toEqual([0, 1, 2]);
    const daysAfterStart = fake.sends.map((send) => Math.round((send.at - start) / (day * 1000)));
    expect(daysAfterStart).toEqual([0, 2, 5]);
    expect(fake.outcomes).toEqual([expect.objectContaining({ status: 'completed' })]);
  });

  it('ends as opted_out with nothing more sent when the opt-out signal arrives while it sleeps', async () => {
    const fake = fakeActivities();
    const outcome = await runWorker(fake.activities, async (taskQueue) => {
      const handle = await env.client.workflow.start(leadFollowUp, {
        taskQueue,
        workflowId: randomUUID(),
        args: [input([{ delaySeconds: 0, template: 'a' }, { delaySeconds: 2 * day, template: 'b' }])],
      });
      await env.sleep(day * 1000);
      expect(await handle.query(statusQuery)).toMatchObject({ status: 'running', waitingFor: 'delay', messagesSent: 1 });
      await handle.signal(optOutSignal, { source: 'inbound_keyword' });
      return handle.result();
    });
    expect(outcome).toMatchObject({ status: 'opted_out', messagesSent: 1 });
    expect(fake.sends).toHaveLength(1);
    expect(fake.outcomes).toEqual([expect.objectContaining({ status: 'opted_out' })]);
  });

  it('ends as failed with the Twilio code when the number is invalid (21211)', async () => {
    const fake = fakeActivities((step) => ({ outcome: 'failed', messageId: `m${step.step}`, kind: 'undeliverable', errorCode: 21211 }));
    const state = await runWorker(fake.activities, (taskQueue) =>
      env.client.workflow.execute(leadFollowUp, { taskQueue, workflowId: randomUUID(), args: [input([{ delaySeconds: 0, template: 'a' }, { delaySeconds: 60, template: 'b' }])] }),
    );
    expect(state).toMatchObject({ status: 'failed', closedReason: 'undeliverable (Twilio 21211)' });
    expect(fake.sends).toHaveLength(1);
  });
});
