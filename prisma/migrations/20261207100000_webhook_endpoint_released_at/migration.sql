-- When a retry by hand, a test ping or a new URL last lifted the endpoint's wait: an attempt claimed before then that
-- fails does not set the wait again.
ALTER TABLE "webhook_endpoints" ADD COLUMN "released_at" TIMESTAMPTZ(3);
