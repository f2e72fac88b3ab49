-- Whether moving an appointment texts the lead the confirmation template for the new time (when they were told the old
-- one). On by default, as the cancellation notice is.
ALTER TABLE "tenants" ADD COLUMN "send_reschedule_notice" BOOLEAN NOT NULL DEFAULT true;
