// An outbound message row written straight to the database, for the bench and tests that need message history
// without sending it.
import type { Db } from '../../common/db.js';
import type { Lead, Prisma } from '../../generated/prisma/client.js';

type MessageFields = Omit<Prisma.MessageUncheckedCreateInput, 'tenantId' | 'leadId' | 'direction' | 'toPhone'>;

/** A message to `lead`, in its tenant; `fields` say the rest (body, status, the enrollment or appointment, …). */
export function createOutboundMessage(
  db: Pick<Db, 'message'>,
  lead: Pick<Lead, 'id' | 'tenantId' | 'phone'>,
  fields: MessageFields,
) {
  return db.message.create({
    data: { tenantId: lead.tenantId, leadId: lead.id, direction: 'outbound', toPhone: lead.phone, ...fields },
  });
}
