// The kill switch's state: a row per paused scope ("global" or a tenant's ID). Shared by the gate and the API.
import type { Db } from '../../common/db.js';
import type { Prisma } from '../../generated/prisma/client.js';

export const globalScope = 'global';

/** The pause that holds this tenant's sends, the global one first; null while sending may go on. */
export async function activePause(db: Db | Prisma.TransactionClient, tenantId: string) {
  const pauses = await db.sendingPause.findMany({ where: { scope: { in: [globalScope, tenantId] } } });
  return pauses.find((pause) => pause.scope === globalScope) ?? pauses[0] ?? null;
}
