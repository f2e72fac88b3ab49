// A sequence definition is never changed once written (saving a name again adds a new version, a new row), so the API
// keeps its steps' timing in memory by id: GET /v1/enrollments/:id then costs one statement fewer on every read.
import { LRUCache } from 'lru-cache';
import type { Db } from '../common/db.js';
import type { SequenceStep } from '../workflows/lead-follow-up.messages.js';

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
