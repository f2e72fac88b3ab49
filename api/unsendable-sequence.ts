// What makes a sequence unsendable for the tenant as it is now, refused with a 422 before anything is written: a step
// its expiry comes before, or a {{bookingLink}} with no booking page to link to.
import { usesPlaceholder } from '../common/templates.js';
import type { SequenceDefinition, Tenant } from '../generated/prisma/client.js';
import { firstStepPastExpiry } from '../workflows/decisions/reachable-steps.js';
import type { SequenceStep } from '../workflows/lead-follow-up.messages.js';
import { ApiError } from './errors.js';

/** A step's template, and its variants' when it has some: the enrollment may be sent any of them. */
const templatesOf = (step: SequenceStep) => [step.template, ...(step.variants ?? []).map(({ template }) => template)];

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
  const using = steps.findIndex((step) =>
    templatesOf(step).some((template) => usesPlaceholder(template, 'bookingLink')),
  );
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

const leadNames = ['firstName', 'lastName'] as const;

/**
 * Why a lead with these names would be sent nothing: every step (each of its variants) uses a name the lead has not, so
 * each would be skipped and the enrollment end `completed` with no text sent. Undefined when a step can go.
 */
export function nothingSendableTo(
  sequence: Pick<SequenceDefinition, 'steps'>,
  lead: { firstName: string | null; lastName: string | null },
): string | undefined {
  const lacking = leadNames.filter((name) => !lead[name]?.trim());
  const needsLacking = (template: string) => lacking.some((name) => usesPlaceholder(template, name));
  const steps = sequence.steps as unknown as SequenceStep[];
  if (!lacking.length || !steps.every((step) => templatesOf(step).every(needsLacking))) return undefined;
  const names = lacking.filter((name) => steps.some((step) => templatesOf(step).some((t) => usesPlaceholder(t, name))));
  return `every step uses ${names.map((name) => `{{${name}}}`).join(' or ')}, which the lead has not: nothing would be sent; give the lead's ${names.join(' and ')} first (PATCH /v1/leads/:id)`;
}

/** Refuses to enroll a lead the sequence would send nothing (nothingSendableTo). */
export function refuseNothingSendable(
  sequence: Pick<SequenceDefinition, 'steps'>,
  lead: { firstName: string | null; lastName: string | null },
) {
  const reason = nothingSendableTo(sequence, lead);
  if (reason)
    throw new ApiError(422, 'validation_failed', 'The sequence would send this lead nothing', {
      fields: { leadId: [reason] },
    });
}
