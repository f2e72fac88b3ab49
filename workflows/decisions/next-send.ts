// Pure: the follow-up's next action on its current step (send, wait, stay paused, expire), from the clock and state.
import { earliestSendTime, windowClosesAt, windowNeverCloses, type SendingPolicy } from './send-time.js';
import type { EnrollmentOutcome, WaitingFor } from '../lead-follow-up.messages.js';
import type { HaltedBy, HoldReason } from '../../activities/send-step-message.types.js';

export type NextSendPlan =
  | { kind: 'expire' }
  | { kind: 'wait'; until: Date; waitingFor: Exclude<WaitingFor, 'send' | 'nothing'> }
  | { kind: 'pause'; until: Date }
  | { kind: 'send'; notAfter: Date };

export interface NextSendPlanInput {
  now: Date;
  /** When the step's delay ends. */
  dueAt: Date;
  expiresAt: Date;
  paused: boolean;
  policy: SendingPolicy;
  recentSends: readonly string[];
}

/** Every wait ends by the expiry at the latest, so an enrollment never outlives it. */
export function planNextSend({ now, dueAt, expiresAt, paused, policy, recentSends }: NextSendPlanInput): NextSendPlan {
  if (now >= expiresAt) return { kind: 'expire' };
  if (paused) return { kind: 'pause', until: expiresAt };
  const plan = earliestSendTime(dueAt > now ? dueAt : now, policy, recentSends);
  if (plan.at <= now) {
    // Twilio keeps the step queued until `notAfter` (its ValidityPeriod): a midnight that closes nothing would drop it.
    if (windowNeverCloses(policy.window)) return { kind: 'send', notAfter: expiresAt };
    const closes = windowClosesAt(now, policy);
    return { kind: 'send', notAfter: closes < expiresAt ? closes : expiresAt };
  }
  const until = plan.at < expiresAt ? plan.at : expiresAt;
  return {
    kind: 'wait',
    until,
    waitingFor: now < dueAt && plan.at.getTime() === dueAt.getTime() ? 'delay' : (plan.heldBy ?? 'delay'),
  };
}

/** The last `maxPerDay` sends are all the daily cap and the gap ever look at; the state stays small. */
export function rememberSend(recentSends: readonly string[], sentAt: Date, maxPerDay: number): string[] {
  return [...recentSends, sentAt.toISOString()].slice(-Math.max(1, maxPerDay));
}

/** What a follow-up shows while the send gate holds its step: the lead's own limits by name, capacity as one. */
export function waitingForHold(reason: HoldReason): WaitingFor {
  return reason === 'cap_gap' || reason === 'cap_daily' || reason === 'window' ? reason : 'capacity';
}

/** How a follow-up ends when the send gate found it halted by a fact the workflow had not heard of yet. */
export function haltedOutcome(reason: HaltedBy): [EnrollmentOutcome, string] {
  switch (reason) {
    case 'replied':
      return ['replied', 'lead replied (seen by the send gate)'];
    case 'booked':
      return ['booked', 'appointment booked (seen by the send gate)'];
    case 'opted_out':
      return ['opted_out', 'recipient opted out (seen by the send gate)'];
    case 'erased':
      return ['cancelled', 'the lead was erased'];
    case 'cancelled':
      return ['cancelled', 'cancelled through the API'];
    case 'undeliverable':
      return ['failed', 'Twilio reported messages to this number undeliverable or filtered (seen by the send gate)'];
    case 'enrollment_closed':
      return ['cancelled', 'the enrollment was closed elsewhere'];
  }
}
