-- An Idempotency-Key whose first request was refused (409) or whose start never ran left no enrollment row holding it,
-- so the same key then started another lead's follow-up. Keys are bound to their first request here, whatever it came
-- to; the keys the enrollments already hold keep being read from their rows. The primary key takes PostgreSQL's
-- default name, enrollment_request_keys_pkey, as Prisma expects.
CREATE TABLE "enrollment_request_keys" (
    "tenant_id" UUID NOT NULL, "key" TEXT NOT NULL, "request_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY ("tenant_id", "key")
);
