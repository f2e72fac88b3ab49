// A batch claims its enrollments as a single enrollment does (api/enrollment-starter.ts): each row is written, under its
// conversation's lock and after a last look at the phone's opt-outs, before its workflow starts. A reply, a booking or
// a STOP that lands while the batch is still starting then finds the row and halts it, so the send gate refuses the
// run's first step; written after the starts, the row missed every such fact recorded meanwhile.
import { randomUUID } from 'node:crypto';
import { lockConversations } from '../common/conversation.js';
import type { Db } from '../common/db.js';
import { optedOutAmong } from '../common/opt-outs.js';
import type { Lead, Prisma, SequenceDefinition, Tenant } from '../generated/prisma/client.js';
import type { GoodRow } from './enrollment-batch-rows.js';
import { settleUnstartedClaim } from './claim-runs.js';
import { claimRow } from './enrollment-starter.js';

/**
 * Conversations locked per transaction: each advisory lock takes a slot in PostgreSQL's shared lock table (sized at
 * 64 per connection by default, shared by all), and a short transaction keeps a STOP to one of these phones waiting
 * briefly.
 */
const claimChunkSize = 200;

export interface ClaimedRow {
  row: GoodRow;
  lead: Lead;
  enrollmentId: string;
  enrolledAt: Date;
}

export interface BatchClaim {
  tenant: Tenant;
  sequence: SequenceDefinition;
  rows: GoodRow[];
  leadByPhone: Map<string, Lead>;
  /** What the tenant's leads hear from when it has no number of its own: a STOP to it may block a phone. */
  defaultSender: string;
}

async function claimChunk(
  tx: Prisma.TransactionClient,
  { tenant, sequence, leadByPhone, defaultSender }: BatchClaim,
  chunk: GoodRow[],
): Promise<ClaimedRow[]> {
  await lockConversations(
    tx,
    tenant.id,
    chunk.map((row) => row.phone),
  );
  const optedOut = await optedOutAmong(
    tx,
    tenant.id,
    chunk.map((row) => row.phone),
    defaultSender,
  );
  const enrolledAt = new Date();
  const claimed: ClaimedRow[] = [];
  for (const row of chunk) {
    const reason = optedOut(row.phone);
    if (reason) Object.assign(row.result, { outcome: 'opted_out', reason });
    else claimed.push({ row, lead: leadByPhone.get(row.phone) as Lead, enrollmentId: randomUUID(), enrolledAt });
  }
  await tx.enrollment.createMany({
    data: claimed.map(({ lead, enrollmentId }) => claimRow(tenant, lead, sequence, enrollmentId, enrolledAt)),
  });
  return claimed;
}

/** Claims the rows' enrollments (running, no run yet), a chunk of conversations per transaction, in phone order. */
export async function claimBatchEnrollments(db: Db, batch: BatchClaim): Promise<ClaimedRow[]> {
  const rows = [...batch.rows].sort((a, b) => (a.phone < b.phone ? -1 : a.phone > b.phone ? 1 : 0));
  const claimed: ClaimedRow[] = [];
  for (let from = 0; from < rows.length; from += claimChunkSize)
    claimed.push(...(await db.$transaction((tx) => claimChunk(tx, batch, rows.slice(from, from + claimChunkSize)))));
  return claimed;
}

/**
 * Settles the claims once their starts answered: a started run's ID recorded (its workflow records it too, whichever
 * comes first), and the claims nothing started removed (closed as the fact that halted them meanwhile, if one did),
 * unless a run recorded itself meanwhile (a start that timed out at the client but reached Temporal).
 */
export async function settleBatchClaims(
  db: Db,
  started: Array<{ enrollmentId: string; runId: string }>,
  unstarted: string[],
): Promise<void> {
  if (started.length)
    await db.$executeRaw`UPDATE enrollments e SET run_id = s.run_id
      FROM unnest(${started.map((run) => run.enrollmentId)}::uuid[], ${started.map((run) => run.runId)}::text[])
        AS s(id, run_id)
      WHERE e.id = s.id AND e.run_id IS NULL`;
  if (!unstarted.length) return;
  await db.enrollment.deleteMany({ where: { id: { in: unstarted }, runId: null, haltedAt: null } });
  // One a reply or a STOP halted while it was starting is closed as that: what the fact ended stays ended.
  const halted = await db.enrollment.findMany({
    where: { id: { in: unstarted }, runId: null, status: 'running' },
    select: { id: true },
  });
  for (const { id } of halted) await settleUnstartedClaim(db, id);
}
