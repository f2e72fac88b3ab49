-- Throughput windows move to rate-limiter-flexible's PostgreSQL store, one statement per slot instead of the Prisma
-- store's delete and upsert. A window lasts a second: nothing in the old table is worth carrying over.
-- DropTable
DROP TABLE "rate_limits";

-- CreateTable
CREATE TABLE "rate_limit_windows" (
    "key" VARCHAR(255) NOT NULL,
    "points" INTEGER NOT NULL DEFAULT 0,
    "expire" BIGINT,

    CONSTRAINT "rate_limit_windows_pkey" PRIMARY KEY ("key")
);
