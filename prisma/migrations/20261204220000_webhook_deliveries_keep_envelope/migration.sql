-- An event's delivery keeps only its envelope; its data is read from the event when it is sent or shown, so an
-- erasure (which scrubs the lead's events) reaches deliveries not yet sent, and the deliveries API, too.
UPDATE "webhook_deliveries" SET "payload" = "payload" - 'data' WHERE "event_id" IS NOT NULL;
