-- AlterTable
ALTER TABLE "webhook_deliveries" ADD COLUMN     "retried_at" TIMESTAMPTZ(3);
