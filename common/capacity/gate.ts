// Sending capacity shared by every worker process: the kill switch, throughput per number and per tenant, warm-up
// of new numbers and tenants' budgets. All of it lives in PostgreSQL, so it holds across processes and restarts.
// This module decides in which order they are asked; each concern has its own module beside it.
import { Prisma } from '../../generated/prisma/client.js';
import type { Db } from '../db.js';
import { noMetrics, type MessageMetrics } from '../metrics.js';
import { recordBudgetAlertIfCrossed } from './budget-alert.js';
import { countsNeeded, peekCountWait, type CountedSend } from './counts.js';
import { readCapacityFacts } from './facts.js';
import { globalScope } from './pauses.js';
import { countSegments } from './segments.js';
import type { CapacitySettings } from './settings.js';
import { createThroughput } from './throughput.js';
import {
  applyUsageChange,
  changesNetOfEarlier,
  lockMessageForCapacity,
  releaseCapacity,
  type ReservedCapacity,
} from './usage.js';
import type { CapacityWait } from './waits.js';

export interface CapacityRequest extends CountedSend {
  messageId: string;
  /**
   * What an earlier attempt of this message reserved, as the caller read it: the peek's estimate. The reservation
   * reads it again under the message's lock and replaces it, never counting it twice.
   */
  previous: ReservedCapacity[];
}

export type CapacityDecision = { ok: true } | { ok: false; wait: CapacityWait };

/** The message closed since the attempt read it: the attempt reads it again and answers from it. */
export class MessageClosedError extends Error {
  constructor(messageId: string) {
    super(`message ${messageId} was closed since this attempt read it`);
    this.name = 'MessageClosedError';
  }
}

/** Thrown inside the reserving transaction to roll every count back. */
class CapacityRefused extends Error {
  constructor(readonly wait: CapacityWait) {
    super(wait.detail);
  }
}

export function createCapacityGate({
  db,
  settings,
  metrics = noMetrics,
  clock = () => new Date(),
}: {
  db: Db;
  settings: CapacitySettings;
  metrics?: MessageMetrics | undefined;
  clock?: () => Date;
}) {
  const later = (ms: number) => new Date(clock().getTime() + Math.max(ms, 1)).toISOString();
  const throughput = createThroughput({ db, settings, later });

  function pauseWait(pause: { scope: string; pausedBy: string }): CapacityWait {
    const whose = pause.scope === globalScope ? 'for every tenant' : 'for this tenant';
    return {
      reason: 'kill_switch',
      until: later(settings.killSwitchRecheckSeconds * 1000),
      detail: `sending is paused ${whose} (by ${pause.pausedBy})`,
    };
  }

  /**
   * Within one transaction, the message's row locked first: the kill switch once more, then every count; any refusal
   * rolls all of it back. The budgets whose alert it crossed.
   */
  async function reserveCounts(request: CapacityRequest): Promise<string[]> {
    return db.$transaction(async (tx) => {
      const { reservation: previous, pending } = await lockMessageForCapacity(tx, request.messageId);
      // Closed since the attempt read it (another attempt sent it, or Twilio refused it): nothing to reserve for, and
      // nothing would ever give back a reservation left on a closed row.
      if (!pending) throw new MessageClosedError(request.messageId);
      const now = clock();
      // The first send starts the number's warm-up. Recorded before the facts are read, so concurrent first sends
      // wait for one another here and all count days from the same instant; a refusal rolls it back.
      await tx.sendingNumber.createMany({ data: [{ value: request.sender, firstSentAt: now }], skipDuplicates: true });
      const facts = await readCapacityFacts(tx, request);
      if (facts.pause) throw new CapacityRefused(pauseWait(facts.pause));
      const needed = countsNeeded(facts, settings, request, now);
      const alerts: string[] = [];
      for (const change of changesNetOfEarlier(previous, needed)) {
        const usedAfter = await applyUsageChange(tx, change);
        if (!change.limit) continue;
        if (usedAfter === null) throw new CapacityRefused(change.limit.waitWhenFull);
        if (change.limit.alert && (await recordBudgetAlertIfCrossed(tx, change, usedAfter)))
          alerts.push(change.limit.alert.budget);
      }
      const reservation = needed.map(({ scope, period, amount }) => ({ scope, period, amount: amount.toString() }));
      await tx.message.update({ where: { id: request.messageId }, data: { reservation } });
      return alerts;
    });
  }

  /** The wait, if any, found without taking anything: most waits end here, cheaply. */
  async function peekWait(request: CapacityRequest): Promise<CapacityWait | null> {
    const facts = await readCapacityFacts(db, request);
    if (facts.pause) return pauseWait(facts.pause);
    return (await peekCountWait(db, settings, request, facts, clock())) ?? (await throughput.peekWait(request));
  }

  /** Takes the counts, then the throughput slots: null once both are taken, else the wait (the counts then go back). */
  async function takeOrWait(request: CapacityRequest): Promise<CapacityWait | null> {
    try {
      const alerts = await reserveCounts(request);
      const slotWait = await throughput.takeSlotsOrWait(request);
      if (!slotWait) {
        for (const budget of alerts) metrics.budgetAlert(budget);
        return null;
      }
      // Another send took the slot first: the counts go back until this one has a slot of its own.
      await db.$transaction((tx) => releaseCapacity(tx, request.messageId));
      return slotWait;
    } catch (error) {
      if (!(error instanceof CapacityRefused)) throw error;
      return error.wait;
    }
  }

  return {
    /**
     * When a waiting send asks again: when the capacity is due, or sooner to notice a raised budget. Waits other than
     * throughput are spread by up to a tenth of their length, so thousands of held sends don't come back at once.
     */
    askAgainAt(wait: CapacityWait): Date {
      const now = Date.now();
      const until = Date.parse(wait.until);
      if (wait.reason === 'number_rate' || wait.reason === 'tenant_rate') return new Date(until);
      const waitMs = Math.min(until - now, settings.recheckSeconds * 1000);
      return new Date(now + waitMs * (0.9 + Math.random() * 0.1));
    },

    /** What a body costs: its segments (GSM-7 or UCS-2) at the configured price per segment. */
    price(body: string): { segments: number; cost: string } {
      const { segments } = countSegments(body);
      return { segments, cost: new Prisma.Decimal(settings.costPerSegment).times(segments).toString() };
    },

    /**
     * Takes what one send needs: the kill switch must be off, the number's and the tenant's throughput must have a
     * slot, and the warm-up and budget counts must have room, all of which are taken together or not at all. A
     * refusal says what is missing and until when; the caller waits and asks again.
     */
    pauseWait,

    async reserve(request: CapacityRequest): Promise<CapacityDecision> {
      const wait = (await peekWait(request)) ?? (await takeOrWait(request));
      if (!wait) return { ok: true };
      metrics.capacityWait(wait.reason);
      return { ok: false, wait };
    },
  };
}

export type CapacityGate = ReturnType<typeof createCapacityGate>;
