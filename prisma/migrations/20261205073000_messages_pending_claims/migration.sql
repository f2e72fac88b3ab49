-- The claim settler looks each minute for pending rows claimed long ago (worker/claim-settler.ts).
CREATE INDEX "messages_status_claimed_at_idx" ON "messages"("status", "claimed_at");
