// Why a send waits for capacity, and until when: what the gate answers, the activity carries and the API shows.
export const capacityWaitReasons = [
  'kill_switch',
  'number_rate',
  'tenant_rate',
  'warmup',
  'budget_daily',
  'budget_monthly',
] as const;
export type CapacityWaitReason = (typeof capacityWaitReasons)[number];

/** The failure type of a send held back for capacity (details: one CapacityWait); Temporal retries it when it is due. */
export const capacityWaitType = 'CapacityWait';

/** Why a send waits and until when; carried by the activity's retry failure, shown by the API. */
export interface CapacityWait {
  reason: CapacityWaitReason;
  until: string;
  detail: string;
}
