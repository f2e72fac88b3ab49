-- The deadline an appointment message's run sends it by, as the run has it: the claim settler waits for it, not for
-- the appointment's start as the row has it, which can lag the run's (worker/claim-settler.ts).
ALTER TABLE "messages" ADD COLUMN "send_by" TIMESTAMPTZ(3);
