import type { Config } from '../config.js';
import type { WarmupSettings } from './periods.js';

export interface CapacitySettings {
  numberMaxPerSecond: number;
  tenantMaxPerSecond: number;
  warmup: WarmupSettings;
  /** What one SMS segment costs, in the currency budgets are set in. */
  costPerSegment: string;
  /** The longest a waiting send sleeps before it asks again (a raised budget takes effect within this). */
  recheckSeconds: number;
  /** How soon a send held by the kill switch asks again, i.e. how long a resume takes to reach it. */
  killSwitchRecheckSeconds: number;
}

/** The worker's capacity settings, from its configuration. */
export function capacitySettings(config: Config): CapacitySettings {
  return {
    numberMaxPerSecond: config.NUMBER_MAX_SENDS_PER_SECOND,
    tenantMaxPerSecond: config.TENANT_MAX_SENDS_PER_SECOND,
    warmup: {
      firstDayLimit: config.WARMUP_FIRST_DAY_LIMIT,
      dailyIncrease: config.WARMUP_DAILY_INCREASE,
      days: config.WARMUP_DAYS,
      warmedUpDailyLimit: config.WARMED_UP_DAILY_LIMIT,
    },
    costPerSegment: config.SMS_COST_PER_SEGMENT,
    recheckSeconds: config.CAPACITY_RECHECK_SECONDS,
    killSwitchRecheckSeconds: config.KILL_SWITCH_RECHECK_SECONDS,
  };
}

/** Limits nothing in practice: for tools and tests that are about other things than sending capacity. */
export const roomyCapacity: CapacitySettings = {
  numberMaxPerSecond: 10_000,
  tenantMaxPerSecond: 10_000,
  warmup: { firstDayLimit: 10_000_000, dailyIncrease: 0, days: 0, warmedUpDailyLimit: 10_000_000 },
  costPerSegment: '0.0083',
  recheckSeconds: 1,
  killSwitchRecheckSeconds: 1,
};
