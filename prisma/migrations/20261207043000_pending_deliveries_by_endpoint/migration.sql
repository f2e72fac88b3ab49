-- The pending deliveries of an endpoint, for the relay's round that gives up those of deleted endpoints: without it,
-- each round read every delivery a deleted endpoint ever had.
CREATE INDEX "webhook_deliveries_pending_endpoint_idx" ON "webhook_deliveries"("endpoint_id") WHERE status = 'pending';
