// What the API shows of a tenant's sending capacity: the kill switch, its throughput, its budgets and each number it
// sends from. A read model only: the views are pure functions of rows, so they are unit-tested without a database.
import { Prisma, type SendingPause } from '../../generated/prisma/client.js';
import type { Db } from '../db.js';
import { budgetPeriods, warmupAllowance, warmupDay, type Period } from './periods.js';
import { capacityWaitReasons, type CapacityWaitReason } from './waits.js';
import { globalScope } from './pauses.js';
import type { CapacitySettings } from './settings.js';

/** Current rates are messages sent (messages.sent_at) in this many seconds before now, per second. */
export const rateWindowSeconds = 60;

export interface PauseView {
  on: boolean;
  since: string | null;
  /** The API key's ID, `operator` or `admin-cli`. */
  by: string | null;
  reason: string | null;
}

export interface KillSwitchView {
  /** Whether this tenant's sends are held: its own switch or the global one. */
  paused: boolean;
  tenant: PauseView;
  global: PauseView;
}

export interface RateView {
  limitPerSecond: number;
  sentLastMinute: number;
  currentPerSecond: number;
}

/** Amounts are decimal strings, exact to the cent and below. */
export interface BudgetView {
  limit: string | null;
  spent: string;
  left: string | null;
  period: string;
  resetsAt: string;
}

export interface WarmupView {
  /** Null until the number's first send, which starts warm-up day 1. */
  firstSentAt: string | null;
  day: number;
  warmedUp: boolean;
  allowance: number;
  sent: number;
  left: number;
  /** When the next warm-up day starts; null before the first send. */
  resetsAt: string | null;
}

export interface NumberView {
  number: string;
  /** `tenant`: one of the tenant's senders; `deployment`: the default sender, shared by every tenant without one. */
  owner: 'tenant' | 'deployment';
  rate: RateView;
  warmup: WarmupView;
}

/** Messages held back by sending capacity (not by a lead's window or caps), by reason. */
export interface WaitingView {
  total: number;
  byReason: Partial<Record<CapacityWaitReason, number>>;
}

export interface SendingStatus {
  killSwitch: KillSwitchView;
  waiting: WaitingView;
  throughput: RateView;
  budgets: { daily: BudgetView; monthly: BudgetView; remindersBypassBudget: boolean; costPerSegment: string };
  numbers: NumberView[];
}

export function pauseView(pause: SendingPause | null | undefined): PauseView {
  if (!pause) return { on: false, since: null, by: null, reason: null };
  return { on: true, since: pause.pausedAt.toISOString(), by: pause.pausedBy, reason: pause.reason };
}

export function killSwitchView(pauses: SendingPause[], tenantId: string): KillSwitchView {
  const tenant = pauseView(pauses.find((pause) => pause.scope === tenantId));
  const global = pauseView(pauses.find((pause) => pause.scope === globalScope));
  return { paused: tenant.on || global.on, tenant, global };
}

export function rateView(sentLastMinute: number, limitPerSecond: number): RateView {
  return {
    limitPerSecond,
    sentLastMinute,
    currentPerSecond: Math.round((sentLastMinute / rateWindowSeconds) * 1000) / 1000,
  };
}

export function budgetView(limit: Prisma.Decimal | null, spent: Prisma.Decimal, period: Period): BudgetView {
  const left = limit === null ? null : Prisma.Decimal.max(limit.minus(spent), 0);
  return {
    limit: limit?.toString() ?? null,
    spent: spent.toString(),
    left: left?.toString() ?? null,
    period: period.key,
    resetsAt: period.endsAt.toISOString(),
  };
}

/** A number's warm-up as the gate counts it: days from its first send, messages counted per warm-up day. */
export function warmupView(
  firstSentAt: Date | null,
  sentThisDay: number,
  now: Date,
  settings: CapacitySettings['warmup'],
): WarmupView {
  const { day, period } = warmupDay(firstSentAt ?? now, now);
  const allowance = warmupAllowance(day, settings);
  return {
    firstSentAt: firstSentAt?.toISOString() ?? null,
    day,
    warmedUp: day > settings.days,
    allowance,
    sent: sentThisDay,
    left: Math.max(allowance - sentThisDay, 0),
    resetsAt: firstSentAt ? period.endsAt.toISOString() : null,
  };
}

/** The numbers a tenant sends from: its own senders, and the deployment's default once any of its messages used it. */
async function tenantNumbers(
  db: Db,
  tenantId: string,
  defaultSender: string | undefined,
): Promise<{ number: string; owner: NumberView['owner'] }[]> {
  const senders = await db.tenantSender.findMany({ where: { tenantId }, orderBy: { value: 'asc' } });
  const numbers: { number: string; owner: NumberView['owner'] }[] = senders.map((sender) => ({
    number: sender.value,
    owner: 'tenant',
  }));
  const ownsDefault = senders.some((sender) => sender.value === defaultSender);
  if (defaultSender && !ownsDefault) {
    const used = await db.message.findFirst({
      where: { tenantId, direction: 'outbound', fromPhone: defaultSender },
      select: { id: true },
    });
    if (used) numbers.push({ number: defaultSender, owner: 'deployment' });
  }
  return numbers;
}

const decimalOf = (usage: { scope: string; period: string; used: Prisma.Decimal }[], scope: string, period: string) =>
  usage.find((row) => row.scope === scope && row.period === period)?.used ?? new Prisma.Decimal(0);

export interface StatusOptions {
  tenantId: string;
  settings: CapacitySettings;
  /** What messages go out from when a tenant has no sender of its own. */
  defaultSender?: string | undefined;
  now?: Date;
}

/** A tenant's sending status; every count is read for this tenant's scopes and numbers only. */
export async function sendingStatus(
  db: Db,
  { tenantId, settings, defaultSender, now = new Date() }: StatusOptions,
): Promise<SendingStatus> {
  const since = new Date(now.getTime() - rateWindowSeconds * 1000);
  const [tenant, pauses, numbers, tenantSent, held] = await Promise.all([
    db.tenant.findUniqueOrThrow({
      where: { id: tenantId },
      select: { defaultTimeZone: true, dailyBudget: true, monthlyBudget: true, remindersBypassBudget: true },
    }),
    db.sendingPause.findMany({ where: { scope: { in: [globalScope, tenantId] } } }),
    tenantNumbers(db, tenantId, defaultSender),
    db.message.count({ where: { tenantId, direction: 'outbound', sentAt: { gt: since, lte: now } } }),
    db.message.groupBy({
      by: ['heldReason'],
      where: { tenantId, direction: 'outbound', status: 'pending', heldReason: { in: [...capacityWaitReasons] } },
      _count: { _all: true },
    }),
  ]);
  const periods = budgetPeriods(now, tenant.defaultTimeZone);
  const numberRows = await db.sendingNumber.findMany({ where: { value: { in: numbers.map(({ number }) => number) } } });
  const firstSent = (number: string) => numberRows.find((row) => row.value === number)?.firstSentAt ?? null;
  const warmupKey = (number: string) => ({
    scope: `warmup:${number}`,
    period: warmupDay(firstSent(number) ?? now, now).period.key,
  });
  const budgetKeys = (['daily', 'monthly'] as const).map((budget) => ({
    scope: `budget_${budget}:${tenantId}`,
    period: periods[budget].key,
  }));
  const [usage, numberSent] = await Promise.all([
    db.capacityUsage.findMany({ where: { OR: [...budgetKeys, ...numbers.map(({ number }) => warmupKey(number))] } }),
    // A number's rate is the number's, whoever sent from it: its limit holds for all of them.
    db.message.groupBy({
      by: ['fromPhone'],
      where: {
        fromPhone: { in: numbers.map(({ number }) => number) },
        direction: 'outbound',
        sentAt: { gt: since, lte: now },
      },
      _count: { _all: true },
    }),
  ]);
  const sentFrom = (number: string) => numberSent.find((row) => row.fromPhone === number)?._count._all ?? 0;
  return {
    killSwitch: killSwitchView(pauses, tenantId),
    waiting: {
      total: held.reduce((sum, row) => sum + row._count._all, 0),
      byReason: Object.fromEntries(held.map((row) => [row.heldReason, row._count._all])),
    },
    throughput: rateView(tenantSent, settings.tenantMaxPerSecond),
    budgets: {
      daily: budgetView(
        tenant.dailyBudget,
        decimalOf(usage, `budget_daily:${tenantId}`, periods.daily.key),
        periods.daily,
      ),
      monthly: budgetView(
        tenant.monthlyBudget,
        decimalOf(usage, `budget_monthly:${tenantId}`, periods.monthly.key),
        periods.monthly,
      ),
      remindersBypassBudget: tenant.remindersBypassBudget,
      costPerSegment: settings.costPerSegment,
    },
    numbers: numbers.map(({ number, owner }) => {
      const { scope, period } = warmupKey(number);
      return {
        number,
        owner,
        rate: rateView(sentFrom(number), settings.numberMaxPerSecond),
        warmup: warmupView(firstSent(number), decimalOf(usage, scope, period).toNumber(), now, settings.warmup),
      };
    }),
  };
}
