-- CreateEnum
CREATE TYPE "appointment_status" AS ENUM ('scheduled', 'completed', 'cancelled', 'opted_out', 'failed');

-- AlterTable
ALTER TABLE "tenants" ADD COLUMN     "appointment_cancellation_template" TEXT NOT NULL DEFAULT '{{businessName}}: your appointment on {{time}} has been cancelled.',
ADD COLUMN     "appointment_confirmation_template" TEXT NOT NULL DEFAULT '{{businessName}}: your appointment is booked for {{time}}.',
ADD COLUMN     "appointment_reminder_template" TEXT NOT NULL DEFAULT '{{businessName}}: a reminder of your appointment on {{time}}.',
ADD COLUMN     "send_cancellation_notice" BOOLEAN NOT NULL DEFAULT true;

-- CreateTable
CREATE TABLE "appointments" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "lead_id" UUID NOT NULL,
    "enrollment_id" UUID,
    "starts_at" TIMESTAMPTZ(3) NOT NULL,
    "time_zone" TEXT NOT NULL,
    "duration_minutes" INTEGER NOT NULL,
    "location" TEXT,
    "notes" TEXT,
    "reminder_offsets_seconds" INTEGER[],
    "reminders" JSONB NOT NULL DEFAULT '[]',
    "next_reminder_at" TIMESTAMPTZ(3),
    "workflow_id" TEXT NOT NULL,
    "run_id" TEXT,
    "status" "appointment_status" NOT NULL DEFAULT 'scheduled',
    "closed_reason" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "closed_at" TIMESTAMPTZ(3),

    CONSTRAINT "appointments_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "appointments_tenant_id_lead_id_starts_at_idx" ON "appointments"("tenant_id", "lead_id", "starts_at");

-- AddForeignKey
ALTER TABLE "appointments" ADD CONSTRAINT "appointments_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "appointments" ADD CONSTRAINT "appointments_lead_id_fkey" FOREIGN KEY ("lead_id") REFERENCES "leads"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "appointments" ADD CONSTRAINT "appointments_enrollment_id_fkey" FOREIGN KEY ("enrollment_id") REFERENCES "enrollments"("id") ON DELETE SET NULL ON UPDATE CASCADE;
