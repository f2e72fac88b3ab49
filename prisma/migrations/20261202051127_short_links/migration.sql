-- AlterTable
ALTER TABLE "tenants" ADD COLUMN     "link_expiry_days" INTEGER NOT NULL DEFAULT 90;

-- CreateTable
CREATE TABLE "short_links" (
    "id" UUID NOT NULL,
    "code" TEXT NOT NULL,
    "tenant_id" UUID NOT NULL,
    "message_id" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "lead_id" UUID,
    "enrollment_id" UUID,
    "appointment_id" UUID,
    "step" INTEGER,
    "variant" TEXT,
    "target" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "message_clicked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "short_links_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "link_clicks" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "link_id" UUID NOT NULL,
    "message_id" UUID NOT NULL,
    "enrollment_id" UUID,
    "step" INTEGER,
    "variant" TEXT,
    "agent_class" TEXT NOT NULL,
    "human" BOOLEAN NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "link_clicks_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "short_links_code_key" ON "short_links"("code");

-- CreateIndex
CREATE INDEX "short_links_tenant_id_lead_id_idx" ON "short_links"("tenant_id", "lead_id");

-- CreateIndex
CREATE UNIQUE INDEX "short_links_message_id_position_key" ON "short_links"("message_id", "position");

-- CreateIndex
CREATE INDEX "link_clicks_link_id_idx" ON "link_clicks"("link_id");

-- CreateIndex
CREATE INDEX "link_clicks_tenant_id_at_idx" ON "link_clicks"("tenant_id", "at");

-- CreateIndex
CREATE INDEX "link_clicks_message_id_idx" ON "link_clicks"("message_id");

-- AddForeignKey
ALTER TABLE "link_clicks" ADD CONSTRAINT "link_clicks_link_id_fkey" FOREIGN KEY ("link_id") REFERENCES "short_links"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
