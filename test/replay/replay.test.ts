// Every committed history replays against the current workflow code: a change that would break running workflows
// fails here first. Histories come from `npm run capture:histories` (see docs/versioning.md).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseVariant, type StepVariant } from '../../common/analytics/variants.js';
import { bundleWorkflows } from '../support/temporal-test-env.js';

const historiesDir = fileURLToPath(new URL('../histories', import.meta.url));
const histories = readdirSync(historiesDir).flatMap((workflowType) =>
  readdirSync(path.join(historiesDir, workflowType))
    .filter((file) => file.endsWith('.json'))
    .map((file) => ({
      workflowType,
      name: file.replace(/\.json$/, ''),
      file: path.join(historiesDir, workflowType, file),
    })),
);
const load = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));

let workflowBundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  workflowBundle = await bundleWorkflows();
});

describe('committed histories replay against the current workflow code', () => {
  it('covers every outcome of every workflow type', () => {
    const names = histories.map((history) => `${history.workflowType}/${history.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'leadFollowUp/completed',
        'leadFollowUp/replied',
        'leadFollowUp/opted-out',
        'leadFollowUp/booked',
        'leadFollowUp/expired',
        'leadFollowUp/cancelled',
        'leadFollowUp/sleeping',
        'leadFollowUp/ab-variant-step',
        'leadFollowUp/halted-before-start',
        'leadFollowUp/undeliverable',
        'purgeProcessedWebhooks/completed',
        'weeklyReport/completed',
        'appointmentReminder/completed',
        'appointmentReminder/rescheduled',
        'appointmentReminder/moves-told-to-lead',
        'appointmentReminder/cancelled-after-untold-move',
        'appointmentReminder/changes-written-on-acceptance',
        'appointmentReminder/cancelled',
        'appointmentReminder/sleeping',
      ]),
    );
  });

  it.each(histories.map((history) => [`${history.workflowType}/${history.name}`, history.file]))(
    '%s',
    async (_name, file) => {
      await expect(Worker.runReplayHistory({ workflowBundle, replayName: _name }, load(file))).resolves.toBeUndefined();
    },
  );
});

describe('an incompatible change', () => {
  it('fails the replay with a determinism violation', async () => {
    const incompatible = await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('./incompatible/workflows.ts', import.meta.url)),
      logger: new DefaultLogger('WARN'),
    });
    const completed = histories.find(
      (history) => history.workflowType === 'leadFollowUp' && history.name === 'completed',
    );
    await expect(
      Worker.runReplayHistory({ workflowBundle: incompatible }, load(completed?.file ?? '')),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});

type Attributes = { activityType?: { name: string }; input?: { payloads: { data: string }[] } };
/** The JSON inputs of a history's events of one type (and one activity type). */
const payloadsOf = (history: unknown, eventType: string, activity?: string) =>
  (history as { events: Record<string, unknown>[] }).events
    .filter((event) => event.eventType === eventType)
    .map((event) => Object.entries(event).find(([key]) => key.endsWith('Attributes'))?.[1] as Attributes | undefined)
    .filter((attributes) => !activity || attributes?.activityType?.name === activity)
    .map((attributes) => JSON.parse(Buffer.from(attributes?.input?.payloads[0]?.data ?? '', 'base64').toString()));

describe('an A/B step', () => {
  it('asks the send activity with what the history holds, from which the variant follows, the same on every replay or retry', async () => {
    const history = load(histories.find((entry) => entry.name === 'ab-variant-step')?.file ?? '');
    await expect(Worker.runReplayHistory({ workflowBundle }, history)).resolves.toBeUndefined();
    const [start] = payloadsOf(history, 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
    const [send] = payloadsOf(history, 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED', 'sendStepMessage');
    const variants = start.sequence.steps[0].variants as StepVariant[];
    expect(send).toMatchObject({ enrollmentId: start.enrollmentId, step: 0, template: variants[0]?.template });
    const chosen = chooseVariant(send.enrollmentId, send.step, variants);
    expect(chooseVariant(send.enrollmentId, send.step, variants)).toEqual(chosen);
  });
});
