import { activityInfo } from '@temporalio/activity';
import { chooseVariant, variantsOfStep, type ChosenVariant } from '../common/analytics/variants.js';
import type { Db } from '../common/db.js';
import type { MessageDeliveryDeps } from './outbound-message.js';
import { createMessageDelivery } from './send-message.js';
import type { SendStepMessageInput, SendStepMessageResult } from './send-step-message.types.js';

/**
 * The enrollment's variant of an A/B step, from the definition it runs (immutable), or null for a plain step. Chosen
 * here rather than in the workflow: a pure function of (enrollment, step), so every attempt and every replay agrees,
 * and runs recorded before variants existed replay unchanged.
 */
async function variantFor(db: Db, input: SendStepMessageInput): Promise<ChosenVariant | null> {
  // Only this step of the definition, the enrollment and its sequence joined: one statement on every send.
  const [row] = await db.$queryRaw<{ step: unknown }[]>`
    SELECT s.steps -> ${input.step}::int AS step
    FROM enrollments e JOIN sequence_definitions s ON s.id = e.sequence_id
    WHERE e.id = ${input.enrollmentId}::uuid AND e.tenant_id = ${input.tenantId}::uuid`;
  const variants = variantsOfStep(row?.step);
  return variants ? chooseVariant(input.enrollmentId, input.step, variants) : null;
}

/** How far apart the API's clock, which stamps a pause, and Temporal's, which stamps a schedule, are taken to be. */
const clocksApartMs = 60_000;

/**
 * Sends one step's SMS at most once, keyed by (enrollment, step). Its deadline is soft: a retry after the window's
 * close or the expiry, or once the enrollment is paused, answers `deferred`, and the workflow plans the step again.
 */
export function createSendStepMessage(deps: MessageDeliveryDeps) {
  const deliver = createMessageDelivery(deps);
  return async function sendStepMessage(input: SendStepMessageInput): Promise<SendStepMessageResult> {
    const variant = await variantFor(deps.db, input);
    return deliver(
      {
        tenantId: input.tenantId,
        leadId: input.leadId,
        idempotencyKey: `${input.enrollmentId}:${input.step}`,
        variant: variant?.label ?? null,
        subject: { kind: 'step', enrollmentId: input.enrollmentId },
        holdAsResult: input.holdAsResult,
        // Paused since the run scheduled this send: a pause from well before it is one the run has since been resumed
        // from (the row not written back), and the run's own plan stands. The pause is stamped on the API's clock and
        // the schedule on Temporal's: one this close to it counts as meanwhile, or an API whose clock is behind let a
        // paused enrollment's step go out on a retry (a stale one only defers a retry, and the run plans the step again).
        pausedMeanwhile: async () =>
          (await deps.db.enrollment.count({
            where: {
              id: input.enrollmentId,
              tenantId: input.tenantId,
              paused: true,
              pausedAt: { gt: new Date(activityInfo().scheduledTimestampMs - clocksApartMs) },
            },
          })) > 0,
        messageFor: () => ({ template: variant?.template ?? input.template }),
      },
      { at: new Date(input.notAfter), hard: false, outcomeWhenMissed: { outcome: 'deferred' } as const },
    );
  };
}
