-- When the API asked the appointment's workflow for a move or a cancel it has not yet written: written under the
-- conversation's lock before the workflow is asked, cleared with the change's own write (or the refusal). Meanwhile the
-- send gate keeps reminders and confirmations waiting, so none goes out for a start the workflow has just let go of.
-- AlterTable
ALTER TABLE "appointments" ADD COLUMN "change_requested_at" TIMESTAMPTZ(3);
