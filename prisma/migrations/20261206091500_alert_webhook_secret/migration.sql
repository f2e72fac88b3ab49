-- The secret a tenant's alerts are signed with (Standard Webhooks), made when its alertWebhookUrl is set. URLs set
-- before it have none: their alerts go unsigned until the URL is set again.
ALTER TABLE "tenants" ADD COLUMN "alert_webhook_secret" TEXT;
