-- Status callbacks whose MessageSid no message row has yet: a callback can beat the write of the SID (the create
-- call's answer being recorded, or a timed-out call's message found at Twilio later), and Twilio does not send a
-- callback answered 200 again. Kept here until the row records the SID, which applies and deletes them
-- (activities/twilio-handover.ts), or for a day (the purge of processed webhooks). No tenant: only the row that gets
-- the SID ever reads them.
-- CreateTable
CREATE TABLE "early_status_callbacks" (
    "message_sid" TEXT NOT NULL,
    "status" "message_status" NOT NULL,
    "error_code" INTEGER,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "early_status_callbacks_pkey" PRIMARY KEY ("message_sid","status")
);

-- CreateIndex
CREATE INDEX "early_status_callbacks_received_at_idx" ON "early_status_callbacks"("received_at");
