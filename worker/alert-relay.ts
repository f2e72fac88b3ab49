// Alerts to a tenant's alertWebhookUrl (common/tenant-alerts.ts) are recorded with their cause; this relay POSTs them
// afterwards, so a slow or failing webhook never holds up a send or a webhook delivery.
import type { Logger } from 'pino';
import type { Db } from '../common/db.js';
import { errorSummary } from '../common/error-summary.js';
import type { TenantAlert } from '../generated/prisma/client.js';
import { periodicRounds, type PeriodicRounds } from '../common/periodic.js';
import { postWebhook } from '../common/webhooks/post.js';
import { standardWebhookHeaders } from '../common/webhooks/secrets.js';

const firstRetryMs = 10_000;
const maxRetryMs = 3_600_000;
/** An alert nobody could take for this long is stale news: it stays in the audit log, the relay stops trying. */
const giveUpAfterMs = 3 * 86_400_000;

export interface AlertRelay extends PeriodicRounds {
  /** One pass over the alerts that are due; resolves when each was delivered or rescheduled. */
  round(): Promise<void>;
}

/** The body POSTed: `type`, `tenantId` and `at` (when it was recorded) around the alert's own facts. */
function alertBody(alert: TenantAlert): string {
  const facts = typeof alert.facts === 'object' && alert.facts !== null ? alert.facts : {};
  return JSON.stringify({ type: alert.type, tenantId: alert.tenantId, ...facts, at: alert.createdAt.toISOString() });
}

export function createAlertRelay({
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
}): AlertRelay {
  /**
   * The tenant gave the URL: its host is resolved and checked, and the connection pinned to what was checked. Signed as
   * the CRM's webhooks are (Standard Webhooks, one id per alert), with the secret made when the URL was set.
   */
  async function post(url: string, secret: string | null, alert: TenantAlert): Promise<void> {
    const body = alertBody(alert);
    const signed = secret
      ? standardWebhookHeaders(
          { secret, previousSecret: null, previousSecretExpiresAt: null },
          { id: `alert_${alert.id}`, body },
        )
      : {};
    const headers = { 'Content-Type': 'application/json', 'User-Agent': 'lead-followup-alerts', ...signed };
    const outcome = await postWebhook(
      url,
      { headers, body },
      { allowPrivate: allowPrivateUrls, owner: alert.tenantId, timeoutMs },
    );
    if (outcome.error) throw new Error(outcome.error);
  }

  async function deliver(alert: TenantAlert): Promise<void> {
    // Claimed by bumping the attempt count it was read with and leasing it past the post's timeout: another worker
    // process that read it too, or reads it meanwhile, leaves it alone.
    const now = Date.now();
    const claimed = await db.tenantAlert.updateMany({
      where: { id: alert.id, attempts: alert.attempts, deliveredAt: null, nextAttemptAt: { lte: new Date(now) } },
      data: { attempts: { increment: 1 }, nextAttemptAt: new Date(now + timeoutMs + firstRetryMs) },
    });
    if (claimed.count === 0) return;
    const tenant = await db.tenant.findUnique({
      where: { id: alert.tenantId },
      select: { alertWebhookUrl: true, alertWebhookSecret: true },
    });
    try {
      if (tenant?.alertWebhookUrl) await post(tenant.alertWebhookUrl, tenant.alertWebhookSecret, alert);
      await db.tenantAlert.update({ where: { id: alert.id }, data: { deliveredAt: new Date(), lastError: null } });
    } catch (error) {
      const lastError = errorSummary(error);
      const giveUp = Date.now() - alert.createdAt.getTime() > giveUpAfterMs;
      const nextAttemptAt = new Date(Date.now() + Math.min(firstRetryMs * 2 ** alert.attempts, maxRetryMs));
      await db.tenantAlert.update({
        where: { id: alert.id },
        data: { lastError, nextAttemptAt: giveUp ? new Date('9999-12-31') : nextAttemptAt },
      });
      logger.warn(
        { tenantId: alert.tenantId, type: alert.type, attempts: alert.attempts + 1, err: lastError, givenUp: giveUp },
        'tenant alert webhook failed',
      );
    }
  }

  async function round(): Promise<void> {
    const due = await db.tenantAlert.findMany({
      where: { deliveredAt: null, nextAttemptAt: { lte: new Date() } },
      orderBy: { createdAt: 'asc' },
      take: 50,
    });
    await Promise.all(due.map(deliver));
  }

  return { round, ...periodicRounds(round, { logger, what: 'tenant alert' }) };
}
