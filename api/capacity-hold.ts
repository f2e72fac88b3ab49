import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { capacityWaitType, type CapacityWait } from '../common/capacity/waits.js';
import type { HoldReason } from '../activities/send-step-message.types.js';
import type { LeadFollowUpState } from '../workflows/lead-follow-up.messages.js';

/** A send held back for sending capacity: why, until when, and when Temporal runs its next attempt. */
export interface CapacityHold {
  /** `unknown` only if the failure carried no wait (a worker older or newer than this API). */
  reason: HoldReason | 'unknown';
  until: string | null;
  detail: string;
  attempt: number;
  nextAttemptAt: string | null;
}

/** The part of a description's pending activity read here (seconds come as a Long from the server). */
interface PendingActivity {
  attempt?: number | null;
  nextAttemptScheduleTime?: { seconds?: number | { toNumber(): number } | null; nanos?: number | null } | null;
  lastFailure?: {
    message?: string | null;
    applicationFailureInfo?: { type?: string | null; details?: { payloads?: Payload[] | null } | null } | null;
  } | null;
}

const isoOf = (time: PendingActivity['nextAttemptScheduleTime']) => {
  if (!time) return null;
  const seconds = typeof time.seconds === 'number' ? time.seconds : (time.seconds?.toNumber() ?? 0);
  return new Date(seconds * 1000 + Math.floor((time.nanos ?? 0) / 1e6)).toISOString();
};

/**
 * The send core answers a held send with a CapacityWait failure and a retry delay, so a waiting send is a pending
 * activity whose last failure is of that type, its details the wait. Null when no send waits for capacity.
 */
export function capacityHoldOf(pendingActivities: readonly PendingActivity[] | null | undefined): CapacityHold | null {
  for (const activity of pendingActivities ?? []) {
    const failure = activity.lastFailure?.applicationFailureInfo;
    if (failure?.type !== capacityWaitType) continue;
    const [payload] = failure.details?.payloads ?? [];
    const wait = payload ? defaultPayloadConverter.fromPayload<Partial<CapacityWait>>(payload) : {};
    return {
      reason: wait.reason ?? 'unknown',
      until: wait.until ?? null,
      detail: wait.detail ?? activity.lastFailure?.message ?? '',
      attempt: activity.attempt ?? 0,
      nextAttemptAt: isoOf(activity.nextAttemptScheduleTime),
    };
  }
  return null;
}

/** A held send as the workflow itself shows it (runs with the send gate's holds): no activity attempt is pending. */
export function capacityHoldOfState(hold: NonNullable<LeadFollowUpState['hold']>): CapacityHold {
  return { reason: hold.reason, until: hold.until, detail: hold.detail, attempt: 0, nextAttemptAt: hold.retryAt };
}
