import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../common/logger.js';

/** A logger writing each line into `lines`, as the service would write it to stdout. */
export function capturedLog(name: string): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger({ level: 'info', name }, sink), lines };
}
