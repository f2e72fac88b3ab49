-- The claim settler looks each minute for pending rows claimed long ago (worker/claim-settler.ts): only the few
-- rows not yet sent are indexed.
CREATE INDEX "messages_pending_claimed_at_idx" ON "messages"("claimed_at") WHERE status = 'pending';
