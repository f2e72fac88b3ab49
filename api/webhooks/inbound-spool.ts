// An inbound SMS whose processing failed (PostgreSQL down or timing out) is kept on the API's disk and processed
// again, in arrival order, once the database answers. Twilio does not resend an inbound webhook answered 500, so
// without this a STOP in the lead's own words, or a reply, arriving during an outage was lost, and the follow-up
// went on texting. Each kept message is its own file, written whole (fsync, then rename) before the 200 answers.
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../../common/db.js';
import { maskPhone } from '../../common/logger.js';
import { periodicRounds, type PeriodicRounds } from '../../common/periodic.js';
import type { SignalRelay } from '../signal-relay.js';
import { processInbound, type InboundOptions, type InboundParams } from './inbound.js';

export interface InboundSpool extends PeriodicRounds {
  /** Keeps the message for a later round; resolves once it is on disk. */
  keep(params: InboundParams): Promise<void>;
  /** Processes the kept messages in arrival order, stopping at the first that fails again (to keep the order). */
  round(): Promise<void>;
}

export interface InboundSpoolDeps {
  dir: string;
  db: Db;
  logger: Logger;
  signalRelay: SignalRelay;
  options: InboundOptions;
}

const kept = '.json';

async function durably(path: string, data: string): Promise<void> {
  const partial = `${path}.partial`;
  const file = await open(partial, 'wx');
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(partial, path);
  // The rename itself survives a crash only once the directory is synced too.
  const directory = await open(dirname(path), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

export function createInboundSpool({ dir, db, logger, signalRelay, options }: InboundSpoolDeps): InboundSpool {
  let sequence = 0;

  async function keep(params: InboundParams): Promise<void> {
    await mkdir(dir, { recursive: true });
    // Named by arrival: a STOP then a START from one phone are processed in that order.
    sequence = (sequence + 1) % 1_000_000;
    const name = `${String(Date.now()).padStart(15, '0')}-${String(sequence).padStart(6, '0')}-${params.MessageSid}`;
    await durably(join(dir, `${name}${kept}`), JSON.stringify(params));
  }

  async function waiting(): Promise<string[]> {
    try {
      return (await readdir(dir)).filter((name) => name.endsWith(kept)).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  async function round(): Promise<void> {
    for (const name of await waiting()) {
      const path = join(dir, name);
      const params = JSON.parse(await readFile(path, 'utf8')) as InboundParams;
      // Throws while the database is still away: the rest wait for the next round, in order.
      const result = await processInbound(db, logger, params, { ...options, late: true });
      if (result.kind === 'processed')
        await signalRelay.deliver(result.signalIds).catch((error: unknown) => {
          logger.warn({ err: error }, 'kept inbound SMS processed; its signals wait for the relay');
        });
      logger.info(
        { messageSid: params.MessageSid, from: maskPhone(params.From), outcome: result.kind },
        'kept inbound SMS processed late',
      );
      await unlink(path);
    }
  }

  return { keep, round, ...periodicRounds(round, { logger, what: 'inbound spool' }) };
}
