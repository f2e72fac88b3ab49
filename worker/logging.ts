import { DefaultLogger, Runtime, makeTelemetryFilterString, type LogEntry } from '@temporalio/worker';
import type { Logger } from 'pino';

const pinoLevel = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/**
 * Sends the SDK's runtime, workflow and activity logs to pino. Workflow and activity entries carry the SDK's own
 * metadata (workflowId, runId, activity attempt), so each line says which run it belongs to.
 * Runtime.install may run once per process, so only entry points call this.
 */
export function routeTemporalLogsToPino(logger: Logger): void {
  const temporalLogger = new DefaultLogger('INFO', (entry: LogEntry) => {
    logger[pinoLevel[entry.level]]({ ...entry.meta }, entry.message);
  });
  Runtime.install({
    logger: temporalLogger,
    telemetryOptions: { logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN' }) } },
  });
}
