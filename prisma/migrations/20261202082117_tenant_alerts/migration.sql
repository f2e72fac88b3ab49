-- Alerts to a tenant's alertWebhookUrl get a table of their own (budget alerts, and now a webhook endpoint marked
-- failing): budget_alerts keeps only the once-per-period record, and its undelivered alerts move over unchanged.
CREATE TABLE "tenant_alerts" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "facts" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "delivered_at" TIMESTAMPTZ(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_error" TEXT,

    CONSTRAINT "tenant_alerts_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "tenant_alerts_delivered_at_next_attempt_at_idx" ON "tenant_alerts"("delivered_at", "next_attempt_at");

INSERT INTO "tenant_alerts" ("id", "tenant_id", "type", "facts", "created_at", "attempts", "next_attempt_at", "last_error")
SELECT gen_random_uuid(), "tenant_id", 'budget.alert',
       jsonb_build_object('budget', "budget", 'period', "period", 'spent', trim_scale("spent")::text,
                          'limit', trim_scale("limit")::text, 'threshold', 0.8),
       "created_at", "attempts", "next_attempt_at", "last_error"
FROM "budget_alerts" WHERE "delivered_at" IS NULL;

DROP INDEX "budget_alerts_delivered_at_next_attempt_at_idx";

ALTER TABLE "budget_alerts" DROP COLUMN "attempts",
DROP COLUMN "delivered_at",
DROP COLUMN "last_error",
DROP COLUMN "next_attempt_at";
