-- CreateIndex
CREATE INDEX "leads_tenant_id_created_at_idx" ON "leads"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "enrollments_tenant_id_started_at_idx" ON "enrollments"("tenant_id", "started_at");
