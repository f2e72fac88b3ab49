import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateApiKey } from '../../api/auth.js';
import type { Db } from '../../common/db.js';

/** A booking page for {{bookingLink}}: a sequence using it is refused for a tenant without one. */
const devBookingUrl = 'https://example.com/book';

/**
 * The embedded default comes with one development tenant. Only the key's hash is in the database, so the key
 * itself is kept in the git-ignored data folder to be shown again on every start.
 */
export async function ensureDevTenant(
  db: Db,
  dataDir: string,
  ownSender: string | null,
): Promise<{ tenantId: string; apiKey: string }> {
  const keyFile = path.join(dataDir, 'dev-api-key');
  if (existsSync(keyFile)) {
    const saved = JSON.parse(readFileSync(keyFile, 'utf8')) as { tenantId: string; apiKey: string };
    // A tenant made before it had a booking page gets one, or the README's sequence ({{bookingLink}}) is refused.
    const { count } = await db.tenant.updateMany({
      where: { id: saved.tenantId, bookingUrl: null },
      data: { bookingUrl: devBookingUrl },
    });
    if (count > 0 || (await db.tenant.findUnique({ where: { id: saved.tenantId } }))) return saved;
  }
  const key = generateApiKey();
  const tenant = await db.tenant.create({
    data: {
      name: 'Development',
      businessName: 'Acme Dental',
      defaultRegion: 'GB',
      defaultTimeZone: 'Europe/London',
      bookingUrl: devBookingUrl,
      apiKeys: { create: { name: 'development', prefix: key.prefix, hash: key.hash } },
      ...(ownSender ? { senders: { create: { value: ownSender, assignedBy: 'npm start' } } } : {}),
    },
  });
  const saved = { tenantId: tenant.id, apiKey: key.key };
  writeFileSync(keyFile, JSON.stringify(saved), { mode: 0o600 });
  return saved;
}
