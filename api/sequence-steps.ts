// A sequence definition is never changed once written (saving a name again adds a new version, a new row), so the API
// keeps its steps in memory by id: GET /v1/enrollments/:id then costs one statement fewer on every read.
import { LRUCache } from 'lru-cache';
import type { Db } from '../common/db.js';
import type { SequenceStep } from '../workflows/lead-follow-up.messages.js';

/** Sequences whose steps stay in memory; a few KiB each at most (50 steps of one SMS template). */
const cachedSequences = 2000;

export type SequenceStepsOf = (sequenceId: string) => Promise<readonly SequenceStep[]>;

/** Concurrent reads of one sequence not yet kept share a single statement. */
export function createSequenceSteps(db: Pick<Db, 'sequenceDefinition'>): SequenceStepsOf {
  const steps = new LRUCache<string, readonly SequenceStep[]>({
    max: cachedSequences,
    fetchMethod: async (sequenceId) => {
      const sequence = await db.sequenceDefinition.findUniqueOrThrow({
        where: { id: sequenceId },
        select: { steps: true },
      });
      return sequence.steps as unknown as SequenceStep[];
    },
  });
  return (sequenceId) => steps.forceFetch(sequenceId);
}
