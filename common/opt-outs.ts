import { createHash } from 'node:crypto';
import type { Db } from './db.js';
import type { Prisma } from '../generated/prisma/client.js';
import { lockConversation } from './conversation.js';

type Tx = Prisma.TransactionClient | Db;

/** The registry's key: a lead's personal data can be erased while its number stays opted out. */
export const phoneHash = (phone: string) => createHash('sha256').update(phone).digest('hex');

export function findOptOut(db: Tx, tenantId: string, phone: string) {
  return db.optOut.findUnique({ where: { tenantId_phoneHash: { tenantId, phoneHash: phoneHash(phone) } } });
}

export interface ConsentChange {
  tenantId: string;
  phone: string;
  source: string;
  messageSid?: string | null;
  note?: string | null;
}

/**
 * Registry and consent log change together; an opt-out that is already there keeps its first source and time. Takes
 * the conversation's lock, so a send gate deciding at the same moment either sees it or claimed its send before it.
 */
export async function recordOptOut(tx: Prisma.TransactionClient, change: ConsentChange): Promise<void> {
  await lockConversation(tx, change.tenantId, change.phone);
  const hash = phoneHash(change.phone);
  await tx.optOut.upsert({
    where: { tenantId_phoneHash: { tenantId: change.tenantId, phoneHash: hash } },
    create: { tenantId: change.tenantId, phoneHash: hash, phone: change.phone, source: change.source, messageSid: change.messageSid ?? null },
    update: {},
  });
  await tx.consentEvent.create({ data: { tenantId: change.tenantId, phoneHash: hash, kind: 'opt_out', source: change.source, messageSid: change.messageSid ?? null, note: change.note ?? null } });
}

/** Returns whether there was an opt-out to clear; the consent is logged either way. */
export async function recordOptIn(tx: Tx, change: ConsentChange): Promise<boolean> {
  const hash = phoneHash(change.phone);
  const { count } = await tx.optOut.deleteMany({ where: { tenantId: change.tenantId, phoneHash: hash } });
  await tx.consentEvent.create({ data: { tenantId: change.tenantId, phoneHash: hash, kind: 'opt_in', source: change.source, messageSid: change.messageSid ?? null, note: change.note ?? null } });
  return count > 0;
}
