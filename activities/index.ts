import type { Db } from '../common/db.js';
import type { MessageMetrics } from '../common/metrics.js';
import { createCapacityGate } from '../common/capacity/gate.js';
import type { CapacitySettings } from '../common/capacity/settings.js';
import { createSendGate } from './send-gate.js';
import { createEnrollmentActivities } from './enrollments.js';
import { createMaintenanceActivities } from './maintenance.js';
import { createReminderActivities } from './reminders.js';
import { createSendStepMessage } from './send-step-message.js';
import type { SmsSender } from './sms-sender.js';
import { analyticsOverview } from '../common/analytics/overview.js';
import { createWeeklyReportActivities, type TotalsOf } from './weekly-report.js';

export interface ActivityDeps {
  db: Db;
  sender: SmsSender;
  /** Counts send outcomes, Twilio errors and opt-outs for the worker's /metrics; unset: nothing is counted. */
  metrics?: MessageMetrics | undefined;
  /** Throughput, warm-up and budget settings (shared state in PostgreSQL). */
  capacity: CapacitySettings;
  /** PUBLIC_BASE_URL as short links may use it (config's shortLinkBaseUrl); unset: links go out untracked. */
  shortLinkBaseUrl?: string | undefined;
  /** What the capacity gate takes for "now" (warm-up days, budget periods); tests move it forward. */
  clock?: (() => Date) | undefined;
  /** What a weekly report counts; unset: the analytics overview's funnel for the week. */
  totalsOf?: TotalsOf | undefined;
}

/** The weekly report's numbers: the analytics overview's funnel for the week (GET /v1/analytics/overview's totals). */
const analyticsTotals =
  (db: Db): TotalsOf =>
  async (tenant, range) => {
    const { totals } = await analyticsOverview(db, tenant, range);
    return { ...totals, rates: { ...totals.rates }, cost: { ...totals.cost } };
  };

export function createActivities({ capacity, clock, totalsOf, ...deps }: ActivityDeps) {
  const delivery = {
    ...deps,
    capacity: createCapacityGate({
      db: deps.db,
      settings: capacity,
      metrics: deps.metrics,
      ...(clock ? { clock } : {}),
    }),
    gate: createSendGate({ db: deps.db }),
  };
  return {
    sendStepMessage: createSendStepMessage(delivery),
    ...createEnrollmentActivities(deps),
    ...createMaintenanceActivities(deps),
    ...createReminderActivities(delivery),
    ...createWeeklyReportActivities({ db: deps.db, totalsOf: totalsOf ?? analyticsTotals(deps.db) }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
