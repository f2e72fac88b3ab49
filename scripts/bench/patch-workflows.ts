// Workflows that differ only in how many patch markers a new run records in its first task before it sleeps: what a
// marker (with the TemporalChangeVersion upsert the SDK adds to it) costs the engine. `timers` adds 1 ms timers first,
// each a workflow task more: the control that shows the measurement sees a cost that is there. Bundled by
// patch-cost.ts only.
import { patched, sleep } from '@temporalio/workflow';

export async function benchPatches({ markers, timers }: { markers: number; timers: number }): Promise<void> {
  for (let i = 0; i < markers; i += 1) patched(`bench-patch-${i}`);
  for (let i = 0; i < timers; i += 1) await sleep(1);
  await sleep('1 hour');
}
