// Shapes the workflow exchanges with the send activity: types only, so workflows can import them.
import type { CapacityWaitReason } from '../common/capacity/waits.js';
import type { HaltReason } from '../common/conversation.js';
import type { SendingPolicy } from '../workflows/decisions/send-time.js';
import type { GateHoldReason } from './send-gate.js';

export type SmsFailureKind = 'opted_out' | 'undeliverable' | 'carrier_filtered' | 'rejected';

/** What ended an enrollment before its workflow heard of it (common/conversation.ts), or its row already closed. */
export type HaltedBy = HaltReason | 'enrollment_closed';

/** Why a send waits: sending capacity (common/capacity/gate.ts) or the lead's window and caps across enrollments. */
export type HoldReason = CapacityWaitReason | GateHoldReason;

export interface SendStepMessageInput {
  tenantId: string;
  leadId: string;
  enrollmentId: string;
  step: number;
  template: string;
  /**
   * The send must not start after this instant (the window's close or the expiry, whichever is first): a retry
   * that comes too late answers `deferred` and the workflow plans the send again.
   */
  notAfter: string;
  /**
   * Set by workflows that wait for a held send themselves (patch `send-gate-holds`): a hold comes back as the `held`
   * outcome, so a reply or a cancel ends the wait at once. Unset: the activity is retried when the hold ends.
   */
  holdAsResult?: boolean;
}

export type SendStepMessageResult =
  | { outcome: 'sent'; messageId: string; twilioSid: string | null }
  | { outcome: 'skipped'; messageId: string; reason: string }
  | { outcome: 'deferred' }
  | { outcome: 'opted_out'; messageId: string }
  | { outcome: 'failed'; messageId: string; kind: SmsFailureKind; errorCode: number | null }
  /** The send gate refused: the enrollment was ended by a fact the workflow may not have heard of yet. */
  | { outcome: 'halted'; messageId: string; reason: HaltedBy }
  /**
   * Not yet: the message may go at `until` and is tried again at `retryAt` (its row stays pending, holding no capacity).
   * `policy`, on a hold of the lead's own window or caps: the lead's zone and the tenant's window and caps as the gate
   * judged them, which the run plans with from then on.
   */
  | {
      outcome: 'held';
      messageId: string;
      reason: HoldReason;
      until: string;
      retryAt: string;
      detail: string;
      policy?: SendingPolicy;
    };
