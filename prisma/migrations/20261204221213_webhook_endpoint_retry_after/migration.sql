-- AlterTable
ALTER TABLE "webhook_endpoints" ADD COLUMN     "retry_after" TIMESTAMPTZ(3);
