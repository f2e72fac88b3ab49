// Shapes the workflow exchanges with the send activity: types only, so workflows can import them.

export type SmsFailureKind = 'opted_out' | 'undeliverable' | 'carrier_filtered' | 'rejected';

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
}

export type SendStepMessageResult =
  | { outcome: 'sent'; messageId: string; twilioSid: string | null }
  | { outcome: 'skipped'; messageId: string; reason: string }
  | { outcome: 'deferred' }
  | { outcome: 'opted_out'; messageId: string }
  | { outcome: 'failed'; messageId: string; kind: SmsFailureKind; errorCode: number | null };
