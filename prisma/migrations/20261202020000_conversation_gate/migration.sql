-- AlterTable
ALTER TABLE "enrollments" ADD COLUMN     "halted_at" TIMESTAMPTZ(3),
ADD COLUMN     "halted_by" TEXT,
ADD COLUMN     "request_hash" TEXT;

-- AlterTable
ALTER TABLE "messages" ADD COLUMN     "appointment_id" UUID,
ADD COLUMN     "claimed_at" TIMESTAMPTZ(3),
ADD COLUMN     "claimed_attempt" INTEGER,
ADD COLUMN     "held_reason" TEXT,
ADD COLUMN     "held_until" TIMESTAMPTZ(3),
ADD COLUMN     "intent" TEXT;

-- AlterTable
ALTER TABLE "tenant_senders" ADD COLUMN     "assigned_by" TEXT NOT NULL DEFAULT 'operator',
ADD COLUMN     "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- CreateIndex
CREATE INDEX "messages_to_phone_created_at_idx" ON "messages"("to_phone", "created_at");

-- CreateIndex
CREATE INDEX "messages_appointment_id_idx" ON "messages"("appointment_id");
