// Which tenant a sender (a Twilio number or Messaging Service) belongs to. Inbound messages find their tenant by it,
// so only the operator assigns senders (the API's operator routes and the admin command share these functions), one
// tenant per sender, and every change is audited.
import type { Db } from './db.js';
import { isUniqueViolation } from './db-errors.js';
import type { Prisma } from '../generated/prisma/client.js';
import { z } from 'zod';

/** An E.164 number or a Messaging Service SID. */
const senderPattern = /^(\+[1-9]\d{6,14}|MG[0-9a-fA-F]{32})$/;

export interface SenderChange {
  value: string;
  tenantId: string;
  /** Moves a sender another tenant owns; without it that is refused. */
  reassign: boolean;
  /** `operator` (the API) or `admin-cli`: kept on the sender and in the audit log. */
  actor: string;
  /** The deployment's own senders (TWILIO_FROM_NUMBER, TWILIO_MESSAGING_SERVICE_SID): shared by every tenant without one. */
  sharedSenders: readonly string[];
}

export type AssignResult =
  | { kind: 'assigned' | 'unchanged'; sender: SenderView; previousTenantId: string | null }
  | { kind: 'invalid' }
  | { kind: 'shared' }
  | { kind: 'unknown_tenant' }
  | { kind: 'taken'; ownerTenantId: string };

export interface SenderView {
  value: string;
  tenantId: string;
  tenantName: string;
  assignedBy: string;
  assignedAt: Date;
}

const withTenant = { tenant: { select: { name: true } } } as const;
type SenderRow = Prisma.TenantSenderGetPayload<{ include: typeof withTenant }>;
const view = (row: SenderRow): SenderView => ({
  value: row.value,
  tenantId: row.tenantId,
  tenantName: row.tenant.name,
  assignedBy: row.assignedBy,
  assignedAt: row.createdAt,
});

export async function listSenders(db: Db): Promise<SenderView[]> {
  return (await db.tenantSender.findMany({ include: withTenant, orderBy: { value: 'asc' } })).map(view);
}

/**
 * Gives `value` to a tenant. Two assignments of one new sender at the same moment both try to insert it (it is the
 * primary key): the second is answered as taken, never as a failure.
 */
export async function assignSender(db: Db, change: SenderChange): Promise<AssignResult> {
  if (!senderPattern.test(change.value)) return { kind: 'invalid' };
  if (change.sharedSenders.includes(change.value)) return { kind: 'shared' };
  // Tenant IDs are UUID columns: anything else is no tenant (and would be a database error if asked for).
  const tenant = z.uuid().safeParse(change.tenantId).success
    ? await db.tenant.findUnique({ where: { id: change.tenantId }, select: { id: true } })
    : null;
  if (!tenant) return { kind: 'unknown_tenant' };
  // The stored ID, which PostgreSQL matched in any case: it is compared with the owner's as a string.
  const tenantId = tenant.id;
  try {
    return await db.$transaction(async (tx) => {
      // Row lock: two reassignments of one sender queue here, so each audits the owner it really took it from.
      await tx.$queryRaw`SELECT 1 FROM tenant_senders WHERE value = ${change.value} FOR UPDATE`;
      const current = await tx.tenantSender.findUnique({ where: { value: change.value }, include: withTenant });
      if (current?.tenantId === tenantId) return { kind: 'unchanged', sender: view(current), previousTenantId: null };
      if (current && !change.reassign) return { kind: 'taken', ownerTenantId: current.tenantId };
      const data = { tenantId, assignedBy: change.actor, createdAt: new Date() };
      // Not an upsert: a new sender is inserted, so the same insert made concurrently fails on the key instead of overwriting.
      const sender = current
        ? await tx.tenantSender.update({ where: { value: change.value }, data, include: withTenant })
        : await tx.tenantSender.create({ data: { value: change.value, ...data }, include: withTenant });
      const previousTenantId = current?.tenantId ?? null;
      await tx.auditLog.create({
        data: {
          tenantId,
          actor: change.actor,
          action: 'sender.assigned',
          subject: change.value,
          data: { previousTenantId },
        },
      });
      return { kind: 'assigned', sender: view(sender), previousTenantId };
    });
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    // The same assignment made at once by another request is this one's answer too, not another tenant's sender.
    const owner = await db.tenantSender.findUnique({ where: { value: change.value }, include: withTenant });
    if (owner?.tenantId === tenantId) return { kind: 'unchanged', sender: view(owner), previousTenantId: null };
    return { kind: 'taken', ownerTenantId: owner?.tenantId ?? '' };
  }
}

/** Takes `value` from its tenant: inbound messages to it then go to whoever texted the phone from it last. */
export async function unassignSender(
  db: Db,
  { value, actor }: { value: string; actor: string },
): Promise<{ tenantId: string } | null> {
  // Not a sender's form, so no sender (and a NUL from a path's %00 never reaches PostgreSQL, which refuses it).
  if (!senderPattern.test(value)) return null;
  return db.$transaction(async (tx) => {
    const [removed] = await tx.$queryRaw<
      { tenant_id: string }[]
    >`DELETE FROM tenant_senders WHERE value = ${value} RETURNING tenant_id::text`;
    if (!removed) return null;
    await tx.auditLog.create({
      data: { tenantId: removed.tenant_id, actor, action: 'sender.unassigned', subject: value },
    });
    return { tenantId: removed.tenant_id };
  });
}
