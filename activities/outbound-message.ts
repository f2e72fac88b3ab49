// What the send core is asked to deliver, what it answers, and what it works with.
import type { Lead, Tenant } from '../generated/prisma/client.js';
import type { CapacityGate } from '../common/capacity/gate.js';
import type { Db } from '../common/db.js';
import type { MessageMetrics } from '../common/metrics.js';
import type { GateSubject, SendGate } from './send-gate.js';
import type { SendStepMessageResult } from './send-step-message.types.js';
import type { SmsSender } from './sms-sender.js';

/** What a message attempt came to, whoever sent it; lateness is answered by the caller's deadline. */
export type DeliveryResult = Exclude<SendStepMessageResult, { outcome: 'deferred' }>;

/** Values for a template's placeholders; a missing one skips the message. */
export type Placeholders = Record<string, string | null | undefined>;

export interface OutboundMessage {
  tenantId: string;
  leadId: string;
  /** One row per key, written before Twilio is called. */
  idempotencyKey: string;
  /** The A/B variant of a sequence step, recorded on the row (and so on its events and funnel counts). */
  variant?: string | null;
  /**
   * What the message is for, and what the send gate checks besides the opt-out: the enrollment and the caps, or the
   * appointment as it is now.
   */
  subject: GateSubject;
  /** A hold answers `held` (the workflow waits, and a close ends the wait at once) instead of a retry. */
  holdAsResult?: boolean | undefined;
  /**
   * Whether the workflow was paused since it scheduled this send: a retry (of a send Twilio failed, or an older run's
   * hold) then answers `outcomeWhenMissed`, giving back what it reserved, and the workflow, paused, waits for the
   * resume. Unset: never.
   */
  pausedMeanwhile?: (() => Promise<boolean>) | undefined;
  /**
   * The template for the lead as it is on the first attempt, with the placeholders it may use besides the lead's own;
   * a retry sends what that one rendered.
   */
  messageFor(lead: Lead & { tenant: Tenant }): { template: string; placeholders?: Placeholders };
}

export interface MessageDeliveryDeps {
  db: Db;
  sender: SmsSender;
  capacity: CapacityGate;
  gate: SendGate;
  metrics?: MessageMetrics | undefined;
  /** Where tracked short links point (/l/<code>); unset: links go out as they are (docs/links.md). */
  shortLinkBaseUrl?: string | undefined;
}

/** The deps as each step of a delivery uses them, defaults filled in. */
export type ResolvedDeliveryDeps = Omit<MessageDeliveryDeps, 'metrics'> & { metrics: MessageMetrics };
