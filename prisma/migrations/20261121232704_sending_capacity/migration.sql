-- AlterTable
ALTER TABLE "messages" ADD COLUMN     "cost" DECIMAL(14,6),
ADD COLUMN     "reservation" JSONB,
ADD COLUMN     "segments" INTEGER;

-- AlterTable
ALTER TABLE "tenants" ADD COLUMN     "alert_webhook_url" TEXT,
ADD COLUMN     "daily_budget" DECIMAL(14,4),
ADD COLUMN     "monthly_budget" DECIMAL(14,4),
ADD COLUMN     "reminders_bypass_budget" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "sending_numbers" (
    "value" TEXT NOT NULL,
    "first_sent_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "sending_numbers_pkey" PRIMARY KEY ("value")
);

-- CreateTable
CREATE TABLE "capacity_usage" (
    "scope" TEXT NOT NULL,
    "period" TEXT NOT NULL,
    "used" DECIMAL(18,6) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "capacity_usage_pkey" PRIMARY KEY ("scope","period")
);

-- CreateTable
CREATE TABLE "rate_limits" (
    "key" TEXT NOT NULL,
    "points" INTEGER NOT NULL,
    "expire" TIMESTAMPTZ(3),

    CONSTRAINT "rate_limits_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "sending_pauses" (
    "scope" TEXT NOT NULL,
    "reason" TEXT,
    "paused_by" TEXT NOT NULL,
    "paused_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sending_pauses_pkey" PRIMARY KEY ("scope")
);

-- CreateTable
CREATE TABLE "budget_alerts" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "budget" TEXT NOT NULL,
    "period" TEXT NOT NULL,
    "spent" DECIMAL(18,6) NOT NULL,
    "limit" DECIMAL(14,4) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "delivered_at" TIMESTAMPTZ(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_error" TEXT,

    CONSTRAINT "budget_alerts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "budget_alerts_delivered_at_next_attempt_at_idx" ON "budget_alerts"("delivered_at", "next_attempt_at");

-- CreateIndex
CREATE UNIQUE INDEX "budget_alerts_tenant_id_budget_period_key" ON "budget_alerts"("tenant_id", "budget", "period");

-- CreateIndex
CREATE INDEX "messages_from_phone_sent_at_idx" ON "messages"("from_phone", "sent_at");
