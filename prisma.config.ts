import { defineConfig } from 'prisma/config';

// The URL is read lazily: `prisma generate` needs none, and the embedded database's URL is only known at start.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/unused' },
});
