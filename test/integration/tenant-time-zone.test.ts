// A tenant's zone saved before it was checked against PostgreSQL: ICU accepted it, PostgreSQL's AT TIME ZONE did not,
// and the analytics count inside every STOP's transaction failed with it.
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { recordOptOut } from '../../common/opt-outs.js';
import { repairTenantTimeZones } from '../../common/tenant-time-zone.js';
import { createTenant, enrolledLead, testDb } from '../support/fixtures.js';

const db = testDb();
afterAll(() => db.$disconnect());

describe('a tenant zone PostgreSQL does not know', () => {
  it('is saved under its canonical name at worker start, and the lead can then opt out', async () => {
    const { tenant } = await createTenant(db, { defaultTimeZone: 'AET' });
    const unknown = await createTenant(db, { defaultTimeZone: 'SystemV/EST5' });
    const { lead } = await enrolledLead(db, tenant.id, { startedAt: new Date() });
    const optOut = () =>
      db.$transaction((tx) => recordOptOut(tx, { tenantId: tenant.id, phone: lead.phone, source: 'api' }));
    await expect(optOut()).rejects.toThrow(/time zone "AET" not recognized/);

    await repairTenantTimeZones(db, pino({ level: 'silent' }));

    expect((await db.tenant.findUniqueOrThrow({ where: { id: tenant.id } })).defaultTimeZone).toBe('Australia/Sydney');
    // No canonical name PostgreSQL knows: left for an operator (and logged).
    expect((await db.tenant.findUniqueOrThrow({ where: { id: unknown.tenant.id } })).defaultTimeZone).toBe(
      'SystemV/EST5',
    );
    // Other suites' workers start with every tenant's weekly report schedule: this one must not fail theirs.
    await db.tenant.update({ where: { id: unknown.tenant.id }, data: { defaultTimeZone: 'UTC' } });
    await optOut();
    const counted = await db.analyticsDaily.findMany({ where: { tenantId: tenant.id, optedOut: { gt: 0 } } });
    expect(counted).toHaveLength(1);
  });
});
