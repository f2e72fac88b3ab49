// What makes a sequence unsendable for the tenant as it is now, refused with a 422 before anything is written: a step
// its expiry comes before, or a {{bookingLink}} with no booking page to link to.
import { usesPlaceholder } from '../common/templates.js';
import type { SequenceDefinition, Tenant } from '../generated/prisma/client.js';
import { firstStepPastExpiry } from '../workflows/decisions/reachable-steps.js';
import type { SequenceStep } from '../workflows/lead-follow-up.messages.js';
import { ApiError } from './errors.js';

/**
 * Refuses steps using {{bookingLink}} for a tenant with no `bookingUrl`: each would be skipped ("missing value"), and an
 * enrollment could complete having sent the lead nothing. Set `bookingUrl` (PATCH /v1/settings) first.
 */
export function refuseBookingLinkWithoutUrl(
  steps: readonly SequenceStep[],
  tenant: Pick<Tenant, 'bookingUrl'>,
  field: 'steps' | 'sequenceId',
) {
  if (tenant.bookingUrl) return;
  const templates = (step: SequenceStep) => [step.template, ...(step.variants ?? []).map(({ template }) => template)];
  const using = steps.findIndex((step) => templates(step).some((template) => usesPlaceholder(template, 'bookingLink')));
  if (using === -1) return;
  throw new ApiError(422, 'validation_failed', 'The sequence links to a booking page the tenant has not set', {
    fields: {
      [field]: [
        `step ${using + 1} uses {{bookingLink}}, and the tenant has no bookingUrl: it would be skipped; set bookingUrl with PATCH /v1/settings`,
      ],
    },
  });
}

/** What makes a sequence unsendable for the tenant as it is now: refused before any enrollment starts. */
export function refuseUnsendableSequence(
  sequence: Pick<SequenceDefinition, 'steps'>,
  tenant: Pick<Tenant, 'expiryDays' | 'bookingUrl'>,
) {
  refuseStepsPastExpiry(sequence, tenant);
  refuseBookingLinkWithoutUrl(sequence.steps as unknown as SequenceStep[], tenant, 'sequenceId');
}

/**
 * Refuses to enroll in a sequence with a step the tenant's expiry comes before: the lead would get the steps before it,
 * then the enrollment would end `expired` with the rest unsent, which nobody asked for.
 */
function refuseStepsPastExpiry(sequence: Pick<SequenceDefinition, 'steps'>, tenant: Pick<Tenant, 'expiryDays'>) {
  const pastExpiry = firstStepPastExpiry(sequence.steps as unknown as SequenceStep[], tenant.expiryDays * 86_400);
  if (pastExpiry === null) return;
  const { step, dueAfterSeconds } = pastExpiry;
  throw new ApiError(422, 'validation_failed', 'The sequence cannot be sent before the enrollment expires', {
    fields: {
      sequenceId: [
        `step ${step} is due ${+(dueAfterSeconds / 86_400).toFixed(2)} days after enrollment, not before the tenant's expiryDays (${tenant.expiryDays}): it would never be sent; raise expiryDays or shorten the delays`,
      ],
    },
  });
}
