import type { Logger } from './logger.js';

export interface PeriodicRounds {
  start(intervalMs: number): void;
  /** Stops the timer and waits for a round under way. */
  stop(): Promise<void>;
}

/** Runs `round` every interval, one at a time (a slow round is never overlapped), logging a round that fails. */
export function periodicRounds(
  round: () => Promise<void>,
  { logger, what }: { logger: Logger; what: string },
): PeriodicRounds {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  return {
    start(intervalMs) {
      timer = setInterval(() => {
        running ??= round()
          .catch((error: unknown) => logger.error({ err: error }, `${what} round failed`))
          .finally(() => (running = undefined));
      }, intervalMs);
      // A background chore never keeps the process alive on its own.
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
