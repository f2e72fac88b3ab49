import { patched } from '@temporalio/workflow';

/**
 * The patched paths a run takes, with one marker for a run started since `currentShape`. The SDK upserts the
 * `TemporalChangeVersion` search attribute with every patch marker it records, and the engine writes the run's
 * visibility record once per upsert: a new run records `currentShape` alone and takes every path in `covered` without
 * a marker of its own. Runs from before it ask each patch as they always did; a patch added later is never in
 * `covered`, so runs of this shape take its old path, as they must.
 */
export class PatchedPaths {
  private readonly currentShape: boolean;
  private readonly covered: ReadonlySet<string>;

  /**
   * Built in the run's first activation, which every run from before `currentShape` replays: `patched()` answers
   * false there, and the answer is kept (asked again later, when not replaying, it would say true).
   */
  constructor(currentShape: string, covered: readonly string[]) {
    this.currentShape = patched(currentShape);
    this.covered = new Set(covered);
  }

  has(patchId: string): boolean {
    return (this.currentShape && this.covered.has(patchId)) || patched(patchId);
  }
}
