// A Twilio webhook whose processing failed (PostgreSQL down or timing out) is kept on the API's disk and processed
// again, in arrival order per phone, once the database answers. Twilio resends neither an inbound webhook nor a status
// callback answered 500, so without this a STOP in the lead's own words, or a reply, arriving during an outage was
// lost, and the follow-up went on texting; and so was a delivery report (a 21610 opt-out, an undeliverable number, what
// the CRM hears of). Each kept webhook is its own file, written whole (fsync, then rename) before the 200 answers, and
// named by arrival and by a key of its phone (of its message, for a status callback).
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../../common/db.js';
import { isDataException } from '../../common/db-errors.js';
import { maskPhone } from '../../common/logger.js';
import { noMetrics, type WebhookMetrics } from '../../common/metrics.js';
import { periodicRounds, type PeriodicRounds } from '../../common/periodic.js';
import { deliverOrLeaveQueued, type SignalRelay } from '../signal-relay.js';
import { countOptOuts, processInbound, type InboundOptions, type InboundParams } from './inbound.js';
import { recordStatusCallback, type StatusParams } from './status.js';

export interface InboundSpool extends PeriodicRounds {
  /**
   * Keeps the message for a later round, as of when its webhook came (not when its processing gave up, seconds later
   * for a database timing out: a STOP processed meanwhile is newer); resolves once it is on disk.
   */
  keep(params: InboundParams, receivedAt: number): Promise<void>;
  /** Keeps the status callback for a later round; resolves once it is on disk. */
  keepStatus(params: StatusParams): Promise<void>;
  /**
   * Whether messages from this phone are waiting: a new one goes behind them (but for an opt-out), or a STOP kept
   * ahead of a START processed now would undo it.
   */
  holdsFrom(phone: string): Promise<boolean>;
  /**
   * Processes the kept messages in arrival order per phone. One that fails holds back only its phone's later ones; with
   * the database away the round stops. One that can never be recorded as it is (PostgreSQL refuses its data, the
   * file cannot be read) is set aside for an operator, and so is one still failing after `setAsideAfterMs` with the
   * database answering.
   */
  round(): Promise<void>;
}

export interface InboundSpoolDeps {
  dir: string;
  db: Db;
  logger: Logger;
  signalRelay: SignalRelay;
  options: InboundOptions;
  /** Opt-outs and Twilio errors processed late count as the live ones do. */
  metrics?: Pick<WebhookMetrics, 'optOutRecorded' | 'twilioError'>;
  setAsideAfterMs?: number;
}

const kept = '.json';
const partial = '.partial';
/** A partial file this old was left by a crash between its write and its rename: its request was answered 500. */
const partialLeftAfterMs = 60_000;
/** Failing this long with the database answering (not a lock or a timeout that passes): set aside. */
const defaultSetAsideAfterMs = 10 * 60_000;

/** Groups a phone's files without writing its number into a file name. */
const phoneKey = (phone: string) => createHash('sha256').update(phone).digest('hex').slice(0, 16);
const phoneKeyOf = (name: string) => name.split('-')[2] ?? '';
/** When the kept message's webhook came: the file name starts with it, in epoch milliseconds. */
const arrivalOf = (name: string) => new Date(Number(name.split('-')[0]));

/** A status callback's file holds it under this key; an inbound SMS's holds its parameters as they came. */
type KeptWebhook = InboundParams | { statusCallback: StatusParams };
const isStatusCallback = (kept: KeptWebhook) => 'statusCallback' in kept;

const ignoreMissing = (error: NodeJS.ErrnoException) => {
  if (error.code !== 'ENOENT') throw error;
};

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

const databaseAnswers = (db: Db) =>
  db.$queryRaw`SELECT 1`.then(
    () => true,
    () => false,
  );

export function createInboundSpool({
  dir,
  db,
  logger,
  signalRelay,
  options,
  metrics = noMetrics,
  setAsideAfterMs = defaultSetAsideAfterMs,
}: InboundSpoolDeps): InboundSpool {
  const setAside = join(dir, 'set-aside');
  /** When each kept file first failed with the database answering. */
  const failingSince = new Map<string, number>();
  let sequence = 0;

  async function keepFile(key: string, messageSid: string, webhook: KeptWebhook, receivedAt: number): Promise<void> {
    await mkdir(dir, { recursive: true });
    sequence = (sequence + 1) % 1_000_000;
    const arrival = `${String(receivedAt).padStart(15, '0')}-${String(sequence).padStart(6, '0')}`;
    await durably(join(dir, `${arrival}-${key}-${messageSid}${kept}`), JSON.stringify(webhook));
  }
  const keep = (params: InboundParams, receivedAt: number) =>
    keepFile(phoneKey(params.From), params.MessageSid, params, receivedAt);
  // Keyed by its message: statuses only move a row forward, so they need no order among a phone's webhooks.
  const keepStatus = (params: StatusParams) =>
    keepFile(phoneKey(`status:${params.MessageSid}`), params.MessageSid, { statusCallback: params }, Date.now());

  async function names(): Promise<string[]> {
    try {
      return (await readdir(dir)).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  const holdsFrom = async (phone: string) => {
    const key = phoneKey(phone);
    return (await names()).some((name) => name.endsWith(kept) && phoneKeyOf(name) === key);
  };

  /** Moved out of the way with its reason logged: the messages behind it go on. */
  async function putAside(name: string, error: unknown): Promise<void> {
    await mkdir(setAside, { recursive: true });
    // Another replica sharing the directory may have moved or processed it first.
    await rename(join(dir, name), join(setAside, name)).catch(ignoreMissing);
    failingSince.delete(name);
    logger.error(
      { err: error, file: join(setAside, name) },
      'kept webhook set aside: it cannot be recorded as it is; an operator must look at it',
    );
  }

  /** The kept webhook, or null when there is none to process (gone meanwhile, or set aside as unreadable). */
  async function read(name: string): Promise<KeptWebhook | null> {
    try {
      return JSON.parse(await readFile(join(dir, name), 'utf8')) as KeptWebhook;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') await putAside(name, error);
      return null;
    }
  }

  async function processKeptStatus(params: StatusParams): Promise<void> {
    const result = await recordStatusCallback({ db, signalRelay, metrics }, logger, params);
    logger.info({ messageSid: params.MessageSid, outcome: result.kind }, 'kept status callback processed late');
  }

  async function processKeptInbound(params: InboundParams, name: string): Promise<void> {
    const result = await processInbound(db, logger, params, { ...options, late: { arrivedAt: arrivalOf(name) } });
    if (result.kind === 'processed') {
      countOptOuts(metrics, result);
      await deliverOrLeaveQueued(signalRelay, logger, result.signalIds);
    }
    logger.info(
      { messageSid: params.MessageSid, from: maskPhone(params.From), outcome: result.kind },
      'kept inbound SMS processed late',
    );
  }

  async function processKept(name: string): Promise<void> {
    const path = join(dir, name);
    const webhook = await read(name);
    if (!webhook) return;
    if (isStatusCallback(webhook)) await processKeptStatus(webhook.statusCallback);
    else await processKeptInbound(webhook, name);
    failingSince.delete(name);
    // Another replica sharing the directory may have processed (and removed) it at the same time.
    await unlink(path).catch(ignoreMissing);
  }

  /**
   * What a failed message does to the round: `set_aside` (it never goes through as it is), `held` (its phone's later
   * ones wait behind it), or `outage` (the database is away: the round stops).
   */
  async function failed(name: string, error: unknown): Promise<'set_aside' | 'held' | 'outage'> {
    if (isDataException(error)) {
      await putAside(name, error);
      return 'set_aside';
    }
    if (!(await databaseAnswers(db))) return 'outage';
    const since = failingSince.get(name) ?? Date.now();
    failingSince.set(name, since);
    if (Date.now() - since >= setAsideAfterMs) {
      await putAside(name, error);
      return 'set_aside';
    }
    logger.warn({ err: error, file: name }, 'kept webhook failed again; its phone’s later ones wait');
    return 'held';
  }

  async function round(): Promise<void> {
    const heldBack = new Set<string>();
    for (const name of await names()) {
      if (name.endsWith(kept)) {
        if (heldBack.has(phoneKeyOf(name))) continue;
        try {
          await processKept(name);
        } catch (error) {
          const verdict = await failed(name, error);
          if (verdict === 'outage') throw error;
          if (verdict === 'held') heldBack.add(phoneKeyOf(name));
        }
      } else if (name.endsWith(partial)) {
        // Renamed meanwhile by the keep that wrote it: nothing left behind.
        const written = await stat(join(dir, name)).catch(() => null);
        if (written && Date.now() - written.mtimeMs > partialLeftAfterMs)
          await unlink(join(dir, name)).catch(ignoreMissing);
      }
    }
  }

  return { keep, keepStatus, holdsFrom, round, ...periodicRounds(round, { logger, what: 'webhook spool' }) };
}
