// A sequence definition is never changed once written (saving a name again adds a new version, a new row), so the API
// keeps its steps' timing in memory by id: GET /v1/enrollments/:id then costs one statement fewer on every read.
import { LRUCache } from 'lru-cache';
import type { Db } from '../common/db.js';
import { usesPlaceholder } from '../common/templates.js';
import type { SequenceDefinition, Tenant } from '../generated/prisma/client.js';
import { firstStepPastExpiry } from '../workflows/decisions/reachable-steps.js';
import type { SequenceStep } from '../workflows/lead-follow-up.messages.js';
import { ApiError } from './errors.js';

/**
 * Sequences whose steps' delays stay in memory: at most 50 numbers each. Not their templates, which reads do not use:
 * with four variants of 1,600 characters a step, a tenant's 2,000 sequences would hold a gigabyte.
 */
const cachedSequences = 2000;

export type StepTiming = Pick<SequenceStep, 'delaySeconds'>;
export type SequenceStepsOf = (sequenceId: string) => Promise<readonly StepTiming[]>;

/** Concurrent reads of one sequence not yet kept share a single statement. */
export function createSequenceSteps(db: Pick<Db, 'sequenceDefinition'>): SequenceStepsOf {
  const steps = new LRUCache<string, readonly StepTiming[]>({
    max: cachedSequences,
    fetchMethod: async (sequenceId) => {
      const sequence = await db.sequenceDefinition.findUniqueOrThrow({
        where: { id: sequenceId },
        select: { steps: true },
      });
      return (sequence.steps as unknown as SequenceStep[]).map(({ delaySeconds }) => ({ delaySeconds }));
    },
  });
  return (sequenceId) => steps.forceFetch(sequenceId);
}

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
  const steps = sequence.steps as unknown as SequenceStep[];
  const step = firstStepPastExpiry(steps, tenant.expiryDays * 86_400);
  if (step === null) return;
  const dueAfterDays = steps.slice(0, step).reduce((sum, { delaySeconds }) => sum + delaySeconds, 0) / 86_400;
  throw new ApiError(422, 'validation_failed', 'The sequence cannot be sent before the enrollment expires', {
    fields: {
      sequenceId: [
        `step ${step} is due ${+dueAfterDays.toFixed(2)} days after enrollment, not before the tenant's expiryDays (${tenant.expiryDays}): it would never be sent; raise expiryDays or shorten the delays`,
      ],
    },
  });
}
