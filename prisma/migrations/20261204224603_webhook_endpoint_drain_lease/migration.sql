-- AlterTable
ALTER TABLE "webhook_endpoints" ADD COLUMN     "drain_until" TIMESTAMPTZ(3);
