// Re-keys the opt-out registry and the consent log to the deployment's keyed hash (common/opt-outs.ts phoneHash).
// A SQL migration cannot know OPT_OUT_HASH_SECRET, so this runs right after the schema migrations on every deploy.
// It only touches rows whose phone is known and whose hash is not the current one, so a second run changes nothing.
// Entries whose phone was erased before it ran keep their unkeyed hash for good; lookups still try that one.
import { lockConversation } from '../../common/conversation.js';
import { createDb, type Db } from '../../common/db.js';
import { legacyPhoneHash, phoneHash } from '../../common/opt-outs.js';
import type { OptOut } from '../../generated/prisma/client.js';

export interface RekeyResult {
  /** Opt-outs now under the current key, merged ones included. */
  optOuts: number;
  /** Opt-outs dropped because the phone had one under each hash. */
  merged: number;
  consentEvents: number;
}

const pageSize = 500;

/** Re-keys what can be re-keyed and records a run that changed anything in the audit log. */
export async function rekeyOptOuts(db: Db): Promise<RekeyResult> {
  const result: RekeyResult = { optOuts: 0, merged: 0, consentEvents: 0 };
  for (let after = ''; ;) {
    const page = await db.optOut.findMany({
      where: { phone: { not: null }, ...(after ? { id: { gt: after } } : {}) },
      orderBy: { id: 'asc' },
      take: pageSize,
    });
    for (const row of page)
      if (row.phone && row.phoneHash !== phoneHash(row.phone)) await rekeyOptOut(db, row, row.phone, result);
    if (page.length < pageSize) break;
    after = page.at(-1)?.id ?? '';
  }
  result.consentEvents += await rekeyConsentOfLeads(db);
  if (result.optOuts || result.consentEvents) {
    await db.auditLog.create({ data: { actor: 'deploy', action: 'opt_outs.rekeyed', data: { ...result } } });
  }
  return result;
}

/** For a deploy step: its own connection, closed when done. */
export async function rekeyOptOutsAt(databaseUrl: string): Promise<RekeyResult> {
  const db = createDb(databaseUrl, { maxConnections: 1 });
  try {
    return await rekeyOptOuts(db);
  } finally {
    await db.$disconnect();
  }
}

/** One entry and the consent events under its old hash, under the conversation's lock so no opt-out or send interleaves. */
async function rekeyOptOut(db: Db, { id, tenantId }: OptOut, phone: string, result: RekeyResult): Promise<void> {
  const keyed = phoneHash(phone);
  await db.$transaction(async (tx) => {
    await lockConversation(tx, tenantId, phone);
    const row = await tx.optOut.findUnique({ where: { id } });
    if (!row || row.phone === null || row.phoneHash === keyed) return;
    const twin = await tx.optOut.findUnique({ where: { tenantId_phoneHash: { tenantId, phoneHash: keyed } } });
    if (twin) {
      // The phone opted out under both hashes: one entry stays, with the first source and time, erased if either was.
      const [first, second] = twin.createdAt <= row.createdAt ? [twin, row] : [row, twin];
      await tx.optOut.delete({ where: { id: second.id } });
      await tx.optOut.update({ where: { id: first.id }, data: { phoneHash: keyed, phone: twin.phone } });
      result.merged += 1;
    } else {
      await tx.optOut.update({ where: { id }, data: { phoneHash: keyed } });
    }
    const events = await tx.consentEvent.updateMany({
      where: { tenantId, phoneHash: row.phoneHash },
      data: { phoneHash: keyed },
    });
    result.optOuts += 1;
    result.consentEvents += events.count;
  });
}

/** Consent events of phones without an opt-out now (opted in again, say): their lead knows the phone. */
async function rekeyConsentOfLeads(db: Db): Promise<number> {
  let count = 0;
  const tenants = await db.consentEvent.groupBy({ by: ['tenantId'] });
  for (const { tenantId } of tenants) {
    for (let after = ''; ;) {
      const leads = await db.lead.findMany({
        where: { tenantId, status: { not: 'erased' }, ...(after ? { id: { gt: after } } : {}) },
        orderBy: { id: 'asc' },
        select: { id: true, phone: true },
        take: pageSize,
      });
      const phoneOf = new Map(leads.map((lead) => [legacyPhoneHash(lead.phone), lead.phone]));
      const found = await db.consentEvent.groupBy({
        by: ['phoneHash'],
        where: { tenantId, phoneHash: { in: [...phoneOf.keys()] } },
      });
      for (const { phoneHash: legacy } of found) {
        const phone = phoneOf.get(legacy);
        if (phone)
          count += (
            await db.consentEvent.updateMany({
              where: { tenantId, phoneHash: legacy },
              data: { phoneHash: phoneHash(phone) },
            })
          ).count;
      }
      if (leads.length < pageSize) break;
      after = leads.at(-1)?.id ?? '';
    }
  }
  return count;
}
