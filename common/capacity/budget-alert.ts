// A budget's alert: recorded (audit row, `sending.budget_alert` event and the POST to the tenant's alert webhook) the
// first time in a period that spending reaches a share of the limit, in the same transaction as the spending.
import { Prisma } from '../../generated/prisma/client.js';
import { recordEvent } from '../events.js';
import { recordTenantAlert } from '../tenant-alerts.js';
import type { UsageChange } from './usage.js';

type Tx = Prisma.TransactionClient;

/** Budgets alert once per period when spending reaches this share of the limit. */
export const budgetAlertShare = new Prisma.Decimal('0.8');

/** True when this change took its budget's spending across the alert threshold and the alert is now recorded. */
export async function recordBudgetAlertIfCrossed(
  tx: Tx,
  change: UsageChange,
  usedAfter: Prisma.Decimal,
): Promise<boolean> {
  const alert = change.limit?.alert;
  if (!alert) return false;
  const max = alert.budgetLimit;
  const threshold = max.times(budgetAlertShare);
  if (usedAfter.lessThan(threshold) || usedAfter.minus(change.amount).greaterThanOrEqualTo(threshold)) return false;
  const { tenantId, budget } = alert;
  const created = await tx.budgetAlert.createMany({
    data: [{ tenantId, budget, period: change.period, spent: usedAfter, limit: max }],
    skipDuplicates: true,
  });
  if (created.count === 0) return false;
  const details = { budget, period: change.period, spent: usedAfter.toString(), limit: max.toString() };
  await tx.auditLog.create({
    data: { tenantId, actor: 'worker', action: 'budget.alert', subject: `${budget}:${change.period}`, data: details },
  });
  await recordEvent(tx, { tenantId, type: 'sending.budget_alert', data: details });
  await recordTenantAlert(tx, {
    tenantId,
    type: 'budget.alert',
    facts: { ...details, threshold: budgetAlertShare.toNumber() },
  });
  return true;
}
