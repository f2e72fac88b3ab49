// Budget alerts are recorded with the send that crossed the threshold (common/capacity/gate.ts); this relay POSTs
// them to the tenant's alert webhook afterwards, so a slow or failing webhook never holds up a send.
import type { Logger } from 'pino';
import type { Db } from '../common/db.js';
import { errorSummary } from '../common/error-summary.js';
import type { BudgetAlert } from '../generated/prisma/client.js';
import { budgetAlertShare } from '../common/capacity/budget-alert.js';
import { periodicRounds, type PeriodicRounds } from '../common/periodic.js';
import { postWebhook } from '../common/webhooks/post.js';

const firstRetryMs = 10_000;
const maxRetryMs = 3_600_000;
/** An alert nobody could take for this long is stale news: it stays in the audit log, the relay stops trying. */
const giveUpAfterMs = 3 * 86_400_000;

export interface BudgetAlertRelay extends PeriodicRounds {
  /** One pass over the alerts that are due; resolves when each was delivered or rescheduled. */
  round(): Promise<void>;
}

function alertPayload(alert: BudgetAlert) {
  return {
    type: 'budget.alert',
    tenantId: alert.tenantId,
    budget: alert.budget,
    period: alert.period,
    spent: alert.spent.toString(),
    limit: alert.limit.toString(),
    threshold: budgetAlertShare.toNumber(),
    at: alert.createdAt.toISOString(),
  };
}

export function createBudgetAlertRelay({
  db,
  logger,
  timeoutMs = 5000,
  allowPrivateUrls = false,
}: {
  db: Db;
  logger: Logger;
  timeoutMs?: number;
  /** WEBHOOK_ALLOW_PRIVATE_URLS: alerts to http and private addresses (development and tests only). */
  allowPrivateUrls?: boolean;
}): BudgetAlertRelay {
  /** The tenant gave the URL: its host is resolved and checked, and the connection pinned to what was checked. */
  async function post(url: string, alert: BudgetAlert): Promise<void> {
    const headers = { 'Content-Type': 'application/json', 'User-Agent': 'lead-followup-budget-alerts' };
    const outcome = await postWebhook(
      url,
      { headers, body: JSON.stringify(alertPayload(alert)) },
      { allowPrivate: allowPrivateUrls, timeoutMs },
    );
    if (outcome.error) throw new Error(outcome.error);
  }

  async function deliver(alert: BudgetAlert): Promise<void> {
    // Claimed by bumping the attempt count it was read with and leasing it past the post's timeout: another worker
    // process that read it too, or reads it meanwhile, leaves it alone.
    const now = Date.now();
    const claimed = await db.budgetAlert.updateMany({
      where: { id: alert.id, attempts: alert.attempts, deliveredAt: null, nextAttemptAt: { lte: new Date(now) } },
      data: { attempts: { increment: 1 }, nextAttemptAt: new Date(now + timeoutMs + firstRetryMs) },
    });
    if (claimed.count === 0) return;
    const tenant = await db.tenant.findUnique({ where: { id: alert.tenantId }, select: { alertWebhookUrl: true } });
    try {
      if (tenant?.alertWebhookUrl) await post(tenant.alertWebhookUrl, alert);
      await db.budgetAlert.update({ where: { id: alert.id }, data: { deliveredAt: new Date(), lastError: null } });
    } catch (error) {
      const lastError = errorSummary(error);
      const giveUp = Date.now() - alert.createdAt.getTime() > giveUpAfterMs;
      const nextAttemptAt = new Date(Date.now() + Math.min(firstRetryMs * 2 ** alert.attempts, maxRetryMs));
      await db.budgetAlert.update({
        where: { id: alert.id },
        data: { lastError, nextAttemptAt: giveUp ? new Date('9999-12-31') : nextAttemptAt },
      });
      logger.warn(
        {
          tenantId: alert.tenantId,
          budget: alert.budget,
          attempts: alert.attempts + 1,
          err: lastError,
          givenUp: giveUp,
        },
        'budget alert webhook failed',
      );
    }
  }

  async function round(): Promise<void> {
    const due = await db.budgetAlert.findMany({
      where: { deliveredAt: null, nextAttemptAt: { lte: new Date() } },
      orderBy: { createdAt: 'asc' },
      take: 50,
    });
    await Promise.all(due.map(deliver));
  }

  return { round, ...periodicRounds(round, { logger, what: 'budget alert' }) };
}
