// What a follow-up is doing, worked out from its PostgreSQL rows with the workflow's own pure decisions: the default
// answer of GET /v1/enrollments/:id, which asks Temporal nothing.
import type { Enrollment, Message } from '../generated/prisma/client.js';
import { planNextSend, waitingForHold } from '../workflows/decisions/next-send.js';
import type { HoldReason } from '../activities/send-step-message.types.js';
import type { SendingPolicy, WaitingFor } from '../workflows/lead-follow-up.messages.js';
import { stepOfMessage } from '../common/event-writers.js';
import type { CapacityHold } from './capacity-hold.js';
import type { StepTiming } from './sequence-steps.js';

export type ProgressMessage = Pick<
  Message,
  | 'enrollmentId'
  | 'idempotencyKey'
  | 'status'
  | 'sentAt'
  | 'updatedAt'
  | 'claimedAt'
  | 'heldReason'
  | 'heldUntil'
  | 'heldDetail'
  | 'heldRetryAt'
>;

export interface EnrollmentProgress {
  /** Index of the next step to send (equals totalSteps once all are done). */
  step: number;
  totalSteps: number;
  paused: boolean;
  waitingFor: WaitingFor;
  nextSendAt: string | null;
  messagesSent: number;
  expiresAt: string;
}

export interface ProgressInput {
  enrollment: Pick<Enrollment, 'status' | 'haltedAt' | 'startedAt' | 'paused' | 'skippedToStep'>;
  steps: readonly StepTiming[];
  /** This enrollment's outbound messages, one per step it reached. */
  messages: readonly ProgressMessage[];
  /** The run's policy and expiry, as kept on the row at enrollment. */
  policy: SendingPolicy;
  expiresAt: Date;
  now: Date;
}

/**
 * A step's message row is written when its send starts and ends sent, skipped or failed; while it is `pending` it is
 * being sent or is held (`held_reason`). Before it exists the step waits for its delay, the window or a cap, which
 * `planNextSend` works out from the same inputs the workflow has: its due time counts from the previous step's end.
 */
export function progressOf({ enrollment, steps, messages, policy, expiresAt, now }: ProgressInput): {
  progress: EnrollmentProgress;
  capacityHold: CapacityHold | null;
} {
  const byStep = messages
    .map((message) => ({ message, step: stepOfMessage(message) }))
    .filter((entry): entry is { message: ProgressMessage; step: number } => entry.step !== null)
    .sort((a, b) => a.step - b.step);
  const sent = byStep.flatMap(({ message }) => (message.sentAt ? [message.sentAt.toISOString()] : []));
  const latest = byStep.at(-1);
  const current = latest?.message.status === 'pending' ? latest : undefined;
  const finished = byStep.filter((entry) => entry !== current).at(-1);
  const endOf = (message: ProgressMessage) => message.sentAt ?? message.updatedAt;

  let step = current?.step ?? (finished ? finished.step + 1 : 0);
  let dueAt = new Date(
    (finished ? endOf(finished.message) : enrollment.startedAt).getTime() + (steps[step]?.delaySeconds ?? 0) * 1000,
  );
  // A skip the run accepted waives the step's delay until that step has a message of its own.
  if (enrollment.skippedToStep !== null && enrollment.skippedToStep > step) {
    step = enrollment.skippedToStep;
    dueAt = now;
  }
  const progress: EnrollmentProgress = {
    step,
    totalSteps: steps.length,
    paused: enrollment.paused,
    waitingFor: 'nothing',
    nextSendAt: null,
    messagesSent: sent.length,
    expiresAt: expiresAt.toISOString(),
  };
  const ended = enrollment.status !== 'running' || enrollment.haltedAt !== null || step >= steps.length;
  if (ended) return { progress, capacityHold: null };

  const plan = planNextSend({ now, dueAt, expiresAt, paused: enrollment.paused, policy, recentSends: sent });
  // A row keeps its hold until a send claims or closes it: the run has left it when it paused, skipped past the step,
  // or let its next look pass into a wait for the window or a cap. A look merely overdue (the worker down) still holds.
  const held = current?.step === step && !enrollment.paused ? current.message : undefined;
  const heldLooksAt = held?.heldRetryAt ?? held?.heldUntil;
  if (held?.heldReason && held.heldUntil && heldLooksAt && (heldLooksAt > now || plan.kind === 'send')) {
    const nextAttemptAt = heldLooksAt.toISOString();
    return {
      progress: { ...progress, waitingFor: waitingForHold(held.heldReason as HoldReason), nextSendAt: nextAttemptAt },
      capacityHold: {
        reason: held.heldReason as HoldReason,
        until: held.heldUntil.toISOString(),
        detail: held.heldDetail ?? '',
        attempt: 0,
        nextAttemptAt,
      },
    };
  }
  if (current?.message.claimedAt) return { progress: { ...progress, waitingFor: 'send' }, capacityHold: null };
  const waiting =
    plan.kind === 'send' || plan.kind === 'expire'
      ? { waitingFor: 'send' as const, nextSendAt: null }
      : plan.kind === 'pause'
        ? { waitingFor: 'pause' as const, nextSendAt: null }
        : { waitingFor: plan.waitingFor, nextSendAt: plan.until.toISOString() };
  return { progress: { ...progress, ...waiting }, capacityHold: null };
}
