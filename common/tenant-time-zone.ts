// A tenant's zone is read by more than ICU: PostgreSQL files the analytics' days in it, inside the transactions that
// record STOPs, bookings and enrollments, and Temporal runs the weekly report's schedule in it. ICU also accepts names
// neither knows (Java's 'AET', 'US/Pacific-New', 'america/new_york'): saved as given, such a zone failed every one of
// those transactions, so the tenant's leads could not opt out. A tenant's zone is therefore saved only under a name
// PostgreSQL knows: as given, or ICU's canonical name for it.
import type { Logger } from 'pino';
import type { Db } from './db.js';
import { IANAZone } from 'luxon';
import type { Prisma } from '../generated/prisma/client.js';

type Tx = Prisma.TransactionClient | Db;

/** ICU's canonical name for a zone it knows: 'AET' is Australia/Sydney, 'america/new_york' America/New_York. */
const canonicalTimeZone = (zone: string) =>
  new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;

const databaseKnows = async (db: Tx, zone: string) => {
  const [row] = await db.$queryRaw<{ known: boolean }[]>`
    SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = ${zone}) AS known`;
  return row?.known === true;
};

/**
 * The name to save a tenant's zone under: as given when PostgreSQL knows it (ICU's own canonical names are often the
 * old ones, Asia/Calcutta for Asia/Kolkata), else ICU's canonical name if PostgreSQL knows that; null otherwise.
 */
export async function tenantTimeZone(db: Tx, zone: string): Promise<string | null> {
  if (!IANAZone.isValidZone(zone)) return null;
  if (await databaseKnows(db, zone)) return zone;
  const canonical = canonicalTimeZone(zone);
  return canonical !== zone && (await databaseKnows(db, canonical)) ? canonical : null;
}

/**
 * At worker start: a tenant's zone saved before the check above, and unknown to PostgreSQL, is saved again under its
 * canonical name; one with none PostgreSQL knows is logged (its analytics counts, and so its STOPs, fail until an
 * operator sets another).
 */
export async function repairTenantTimeZones(db: Db, logger: Logger): Promise<void> {
  const unknown = await db.$queryRaw<{ id: string; zone: string }[]>`
    SELECT id, default_time_zone AS zone FROM tenants
    WHERE default_time_zone NOT IN (SELECT name FROM pg_timezone_names)`;
  for (const { id, zone } of unknown) {
    const repaired = await tenantTimeZone(db, zone);
    if (repaired) {
      // Only the zone read: one a PATCH saved since stays.
      await db.tenant.updateMany({ where: { id, defaultTimeZone: zone }, data: { defaultTimeZone: repaired } });
      logger.info({ tenantId: id, from: zone, to: repaired }, 'tenant time zone saved under its canonical name');
    } else {
      logger.error(
        { tenantId: id, zone },
        'tenant time zone unknown to PostgreSQL: set another with PATCH /v1/settings',
      );
    }
  }
}
