// An inbound SMS whose processing failed (PostgreSQL down or timing out) is kept on the API's disk and processed
// again, in arrival order, once the database answers. Twilio does not resend an inbound webhook answered 500, so
// without this a STOP in the lead's own words, or a reply, arriving during an outage was lost, and the follow-up
// went on texting. Each kept message is its own file, written whole (fsync, then rename) before the 200 answers.
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../../common/db.js';
import { isDataException } from '../../common/db-errors.js';
import { maskPhone } from '../../common/logger.js';
import { periodicRounds, type PeriodicRounds } from '../../common/periodic.js';
import type { SignalRelay } from '../signal-relay.js';
import { processInbound, type InboundOptions, type InboundParams } from './inbound.js';

export interface InboundSpool extends PeriodicRounds {
  /** Keeps the message for a later round; resolves once it is on disk. */
  keep(params: InboundParams): Promise<void>;
  /** Whether messages are waiting: a new one goes behind them, or a STOP processed now could be undone by an older START. */
  holdsAny(): Promise<boolean>;
  /**
   * Processes the kept messages in arrival order, stopping at the first that fails (the database away, a lock, a
   * timeout); one PostgreSQL refuses for its own data is set aside instead.
   */
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
const partial = '.partial';
/** A partial file this old was left by a crash between its write and its rename: its request was answered 500. */
const partialLeftAfterMs = 60_000;

async function syncDirectory(path: string): Promise<void> {
  const directory = await open(path, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

async function durably(path: string, data: string): Promise<void> {
  const writing = `${path}${partial}`;
  const file = await open(writing, 'wx');
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(writing, path);
  // The rename itself survives a crash only once the directory is synced too.
  await syncDirectory(dirname(path));
}

export function createInboundSpool({ dir, db, logger, signalRelay, options }: InboundSpoolDeps): InboundSpool {
  const setAside = join(dir, 'set-aside');
  let sequence = 0;

  async function keep(params: InboundParams): Promise<void> {
    await mkdir(dir, { recursive: true });
    // Named by arrival: a STOP then a START from one phone are processed in that order.
    sequence = (sequence + 1) % 1_000_000;
    const name = `${String(Date.now()).padStart(15, '0')}-${String(sequence).padStart(6, '0')}-${params.MessageSid}`;
    await durably(join(dir, `${name}${kept}`), JSON.stringify(params));
  }

  async function names(): Promise<string[]> {
    try {
      return (await readdir(dir)).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  const holdsAny = async () => (await names()).some((name) => name.endsWith(kept));

  /** Moved out of the way with its reason logged: the messages behind it go on. */
  async function putAside(name: string, error: unknown): Promise<void> {
    await mkdir(setAside, { recursive: true });
    await rename(join(dir, name), join(setAside, name));
    logger.error(
      { err: error, file: join(setAside, name) },
      'kept inbound SMS set aside: it can never be recorded as it is; an operator must look at it',
    );
  }

  async function processKept(name: string): Promise<void> {
    const path = join(dir, name);
    const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (text === null) return;
    let params: InboundParams;
    try {
      params = JSON.parse(text) as InboundParams;
    } catch (error) {
      return putAside(name, error);
    }
    try {
      const result = await processInbound(db, logger, params, { ...options, late: true });
      if (result.kind === 'processed')
        await signalRelay.deliver(result.signalIds).catch((error: unknown) => {
          logger.warn({ err: error }, 'kept inbound SMS processed; its signals wait for the relay');
        });
      logger.info(
        { messageSid: params.MessageSid, from: maskPhone(params.From), outcome: result.kind },
        'kept inbound SMS processed late',
      );
      // Another replica sharing the directory may have processed (and removed) it at the same time.
      await unlink(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    } catch (error) {
      // PostgreSQL refusing the message's own data fails every time: set aside. Anything else (the database away, a
      // lock or a timeout) passes: this one and the rest wait for the next round, in order.
      if (!isDataException(error)) throw error;
      await putAside(name, error);
    }
  }

  async function round(): Promise<void> {
    for (const name of await names()) {
      if (name.endsWith(kept)) await processKept(name);
      else if (name.endsWith(partial)) {
        // Renamed meanwhile by the keep that wrote it: nothing left behind.
        const written = await stat(join(dir, name)).catch(() => null);
        if (written && Date.now() - written.mtimeMs > partialLeftAfterMs) await unlink(join(dir, name));
      }
    }
  }

  return { keep, holdsAny, round, ...periodicRounds(round, { logger, what: 'inbound spool' }) };
}
