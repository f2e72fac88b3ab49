-- How many change requests (a move, a cancel) hold the appointment's stamp: one request answering no longer clears the
-- stamp another request, still waiting for the workflow's answer, relies on.
ALTER TABLE "appointments" ADD COLUMN "change_requests_pending" INTEGER NOT NULL DEFAULT 0;
