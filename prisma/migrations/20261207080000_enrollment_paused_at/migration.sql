-- When the API wrote an enrollment's pause: a send its run scheduled before it, in Twilio's retries, is not retried.
ALTER TABLE "enrollments" ADD COLUMN "paused_at" TIMESTAMPTZ(3);
