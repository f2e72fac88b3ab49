-- AlterTable
ALTER TABLE "enrollments" ADD COLUMN     "expires_at" TIMESTAMPTZ(3),
ADD COLUMN     "paused" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "policy" JSONB,
ADD COLUMN     "skipped_to_step" INTEGER;

-- AlterTable
ALTER TABLE "messages" ADD COLUMN     "held_detail" TEXT,
ADD COLUMN     "held_retry_at" TIMESTAMPTZ(3);
