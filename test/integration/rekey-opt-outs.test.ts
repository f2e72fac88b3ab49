// The deploy step that moves opt-outs and consent events from the unkeyed SHA-256 of the phone to the keyed hash.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../common/db.js';
import { findOptOut, phoneHash, recordOptIn } from '../../common/opt-outs.js';
import { rekeyOptOuts } from '../../scripts/db/rekey-opt-outs.js';
import { createTenant, randomUkMobile, testDb } from '../support/fixtures.js';

const sha256 = (phone: string) => createHash('sha256').update(phone).digest('hex');
const at = (iso: string) => new Date(iso);

let db: Db;
beforeAll(() => {
  db = testDb();
});
afterAll(() => db?.$disconnect());

describe('re-keying the opt-out registry', () => {
  it('re-keys every entry and consent event whose phone is known, merges a phone under both hashes, keeps erased ones findable, and changes nothing the second time', async () => {
    const { tenant } = await createTenant(db);
    const tenantId = tenant.id;
    const [known, erased, both, optedIn, unknown] = Array.from({ length: 5 }, () => randomUkMobile().e164) as [
      string,
      string,
      string,
      string,
      string,
    ];
    const consent = (hash: string, kind: 'opt_out' | 'opt_in' = 'opt_out') => ({
      tenantId,
      phoneHash: hash,
      kind,
      source: 'inbound_keyword',
    });
    await db.optOut.createMany({
      data: [
        { tenantId, phoneHash: sha256(known), phone: known, source: 'inbound_keyword' },
        { tenantId, phoneHash: sha256(erased), phone: null, source: 'erasure' },
        // The same phone under both hashes (an instance still running the old code recorded one): the first one stays.
        { tenantId, phoneHash: sha256(both), phone: both, source: 'api', createdAt: at('2026-01-01T00:00:00Z') },
        {
          tenantId,
          phoneHash: phoneHash(both),
          phone: both,
          source: 'inbound_keyword',
          createdAt: at('2026-02-01T00:00:00Z'),
        },
      ],
    });
    await db.consentEvent.createMany({
      data: [
        consent(sha256(known)),
        consent(sha256(known), 'opt_in'),
        consent(sha256(erased)),
        consent(sha256(both)),
        consent(phoneHash(both)),
        consent(sha256(optedIn)),
        consent(sha256(optedIn), 'opt_in'),
        consent(sha256(unknown)),
      ],
    });
    // Opted in again since: no entry, but a lead that knows the phone.
    await db.lead.create({ data: { tenantId, phone: optedIn, timeZone: 'Europe/London' } });

    expect(await rekeyOptOuts(db)).toEqual({ optOuts: 2, merged: 1, consentEvents: 5 });

    const entries = await db.optOut.findMany({ where: { tenantId }, orderBy: { createdAt: 'asc' } });
    expect(entries.map(({ phone, phoneHash: hash, source }) => ({ phone, hash, source }))).toEqual(
      expect.arrayContaining([
        { phone: known, hash: phoneHash(known), source: 'inbound_keyword' },
        { phone: null, hash: sha256(erased), source: 'erasure' },
        { phone: both, hash: phoneHash(both), source: 'api' },
      ]),
    );
    expect(entries).toHaveLength(3);
    const hashesOf = async (phone: string) =>
      (
        await db.consentEvent.findMany({ where: { tenantId, phoneHash: { in: [sha256(phone), phoneHash(phone)] } } })
      ).map((event) => event.phoneHash);
    expect(await hashesOf(known)).toEqual([phoneHash(known), phoneHash(known)]);
    expect(await hashesOf(both)).toEqual([phoneHash(both), phoneHash(both)]);
    expect(await hashesOf(optedIn)).toEqual([phoneHash(optedIn), phoneHash(optedIn)]);
    // Nothing knows these phones any more: they keep the hash they had.
    expect(await hashesOf(erased)).toEqual([sha256(erased)]);
    expect(await hashesOf(unknown)).toEqual([sha256(unknown)]);

    // The erased entry still stops sends, and an opt-in still clears it.
    expect(await findOptOut(db, tenantId, erased)).toMatchObject({ source: 'erasure', phone: null });
    expect(await findOptOut(db, tenantId, both)).toMatchObject({ source: 'api' });

    const runs = await db.auditLog.count({ where: { action: 'opt_outs.rekeyed' } });
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(await rekeyOptOuts(db)).toEqual({ optOuts: 0, merged: 0, consentEvents: 0 });
    expect(await db.auditLog.count({ where: { action: 'opt_outs.rekeyed' } })).toBe(runs);

    expect(await recordOptIn(db, { tenantId, phone: erased, source: 'api' }, { liftsErased: true })).toBe(true);
    expect(await findOptOut(db, tenantId, erased)).toBeNull();
  });
});
