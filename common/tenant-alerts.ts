// Alerts to a tenant's alertWebhookUrl, recorded in the transaction that records their cause (so an alert is never
// lost or sent for something that did not happen) and POSTed afterwards by the worker's relay (worker/alert-relay.ts).
import type { Prisma } from '../generated/prisma/client.js';

export type TenantAlertType = 'budget.alert' | 'webhook_endpoint.failing';

export async function recordTenantAlert(
  tx: Prisma.TransactionClient,
  alert: { tenantId: string; type: TenantAlertType; facts: Prisma.InputJsonObject },
): Promise<void> {
  await tx.tenantAlert.create({ data: alert });
}
