// Pure: whether a sequence's steps can all be sent before its enrollment expires. Each step's delay counts from the
// previous send (the first from enrollment), so no step goes before the sum of the delays up to it; one due at the
// expiry or after never goes (planNextSend expires first), and the enrollment would end `expired` with it unsent.

/** The first step (numbered from 1) whose delays add up to the expiry or past it; null when every step can go. */
export function firstStepPastExpiry(
  steps: readonly { delaySeconds: number }[],
  expiresAfterSeconds: number,
): number | null {
  let dueAfter = 0;
  for (const [index, step] of steps.entries()) {
    dueAfter += step.delaySeconds;
    if (dueAfter >= expiresAfterSeconds) return index + 1;
  }
  return null;
}
