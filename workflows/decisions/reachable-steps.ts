// Pure: whether a sequence's steps can all be sent before its enrollment expires. Each step's delay counts from the
// previous send (the first from enrollment), so no step goes before the sum of the delays up to it; one due at the
// expiry or after never goes (planNextSend expires first), and the enrollment would end `expired` with it unsent.

/** The first step (numbered from 1) whose delays add up to the expiry or past it, and when; null when every step can go. */
export function firstStepPastExpiry(
  steps: readonly { delaySeconds: number }[],
  expiresAfterSeconds: number,
): { step: number; dueAfterSeconds: number } | null {
  let dueAfterSeconds = 0;
  for (const [index, { delaySeconds }] of steps.entries()) {
    dueAfterSeconds += delaySeconds;
    if (dueAfterSeconds >= expiresAfterSeconds) return { step: index + 1, dueAfterSeconds };
  }
  return null;
}
