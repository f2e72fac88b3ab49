-- An inbound SMS's TwiML answer (a STOP's confirmation, HELP, an appointment's answer) is recorded as sent: a retry of
-- the webhook with the same MessageSid (Twilio's fallback URL) is answered with it again.
ALTER TABLE "processed_webhooks" ADD COLUMN "reply" TEXT;
