import { createMessageDelivery, leadTemplateValues, type MessageDeliveryDeps } from './send-message.js';
import type { SendStepMessageInput, SendStepMessageResult } from './send-step-message.types.js';

/**
 * Sends one step's SMS at most once, keyed by (enrollment, step). Its deadline is soft: a retry after the window's
 * close or the expiry answers `deferred`, and the workflow plans the step again.
 */
export function createSendStepMessage(deps: MessageDeliveryDeps) {
  const deliver = createMessageDelivery(deps);
  return async function sendStepMessage(input: SendStepMessageInput): Promise<SendStepMessageResult> {
    return deliver(
      {
        tenantId: input.tenantId,
        leadId: input.leadId,
        enrollmentId: input.enrollmentId,
        appointmentId: null,
        idempotencyKey: `${input.enrollmentId}:${input.step}`,
        subject: { kind: 'step', enrollmentId: input.enrollmentId },
        holdAsResult: input.holdAsResult ?? false,
        compose: (lead) => ({ template: input.template, values: leadTemplateValues(lead) }),
      },
      { at: new Date(input.notAfter), hard: false, late: { outcome: 'deferred' } as const },
    );
  };
}
