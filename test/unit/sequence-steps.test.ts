import { describe, expect, it } from 'vitest';
import { createSequenceSteps } from '../../api/sequence-steps.js';
import type { Db } from '../../common/db.js';

const steps = [{ delaySeconds: 0, template: 'Hi {{firstName}}' }];
/** What is kept of them: reads use the delays only. */
const timing = [{ delaySeconds: 0 }];

/** A stand-in for the one statement the cache issues, counting how often it runs. */
function sequences(rows: Record<string, unknown>) {
  const loads: string[] = [];
  const db = {
    sequenceDefinition: {
      findUniqueOrThrow: async ({ where }: { where: { id: string } }) => {
        loads.push(where.id);
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (!(where.id in rows)) throw new Error(`No sequence ${where.id}`);
        return { steps: rows[where.id] };
      },
    },
  } as unknown as Pick<Db, 'sequenceDefinition'>;
  return { db, loads };
}

describe('sequence steps kept in memory', () => {
  it('reads a sequence once, however many reads ask for it at the same time or later', async () => {
    const { db, loads } = sequences({ s1: steps });
    const stepsOf = createSequenceSteps(db);
    const answers = await Promise.all([stepsOf('s1'), stepsOf('s1'), stepsOf('s1')]);
    expect(answers).toEqual([timing, timing, timing]);
    expect(await stepsOf('s1')).toEqual(timing);
    expect(loads).toEqual(['s1']);
  });

  it('keeps no failure: a sequence that could not be read is read again next time', async () => {
    const rows: Record<string, unknown> = {};
    const { db, loads } = sequences(rows);
    const stepsOf = createSequenceSteps(db);
    await expect(stepsOf('s2')).rejects.toThrow('No sequence s2');
    rows.s2 = steps;
    expect(await stepsOf('s2')).toEqual(timing);
    expect(loads).toEqual(['s2', 's2']);
  });
});
