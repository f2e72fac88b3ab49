-- Every inbound SMS looks for an erasure of its phone since it came, by any tenant (api/webhooks/inbound.ts stillFor):
-- only the erasures' entries are indexed.
CREATE INDEX "consent_events_erasures_idx" ON "consent_events"("phone_hash", "created_at") WHERE source = 'erasure';
