-- AlterTable
ALTER TABLE "messages" ADD COLUMN     "variant" TEXT;

-- CreateTable
CREATE TABLE "analytics_daily" (
    "tenant_id" UUID NOT NULL,
    "sequence_id" UUID NOT NULL,
    "step" INTEGER NOT NULL,
    "variant" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "enrolled" INTEGER NOT NULL DEFAULT 0,
    "sent" INTEGER NOT NULL DEFAULT 0,
    "delivered" INTEGER NOT NULL DEFAULT 0,
    "failed" INTEGER NOT NULL DEFAULT 0,
    "clicked" INTEGER NOT NULL DEFAULT 0,
    "replied" INTEGER NOT NULL DEFAULT 0,
    "booked" INTEGER NOT NULL DEFAULT 0,
    "opted_out" INTEGER NOT NULL DEFAULT 0,
    "expired" INTEGER NOT NULL DEFAULT 0,
    "completed" INTEGER NOT NULL DEFAULT 0,
    "segments" INTEGER NOT NULL DEFAULT 0,
    "cost" DECIMAL(18,6) NOT NULL DEFAULT 0,

    CONSTRAINT "analytics_daily_pkey" PRIMARY KEY ("tenant_id","sequence_id","step","variant","day")
);

-- CreateTable
CREATE TABLE "analytics_counted" (
    "subject_id" UUID NOT NULL,
    "fact" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "analytics_counted_pkey" PRIMARY KEY ("subject_id","fact")
);

-- CreateIndex
CREATE INDEX "analytics_daily_tenant_id_day_idx" ON "analytics_daily"("tenant_id", "day");
