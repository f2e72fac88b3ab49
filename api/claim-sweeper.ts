// An enrollment is claimed (its row written: running, no run ID yet) before its workflow starts, and the claimant then
// records the run or removes the row. A claimant that died in between (the API killed mid-request or mid-batch) left a
// row that stood for a running follow-up for ever: every later batch answered the lead `already_enrolled`, and lists
// showed it running. This chore settles such a claim once it is older than any claimant takes: the run recorded when
// the lead's workflow is the claim's (its memo names the enrollment), the row removed when no run is (closed as the
// fact, a reply or a cancel, that halted it meanwhile).
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Db } from '../common/db.js';
import { periodicRounds, type PeriodicRounds } from '../common/periodic.js';
import { runOfClaim, settleUnstartedClaim, type Claim } from './claim-runs.js';

/** Far past any claimant: a single start waits at most 10 s on Temporal, a batch's group of claims a few minutes. */
export const abandonedClaimAfterMs = 10 * 60_000;
const claimsPerRound = 100;

export interface ClaimSweeper extends PeriodicRounds {
  /**
   * One pass over the claims left unsettled (of one tenant when given: a test sharing the database with others);
   * resolves once each was settled or left for the next round.
   */
  round(tenantId?: string): Promise<void>;
}

export function createClaimSweeper({
  db,
  temporal,
  logger,
}: {
  db: Db;
  temporal: Client;
  logger: Logger;
}): ClaimSweeper {
  async function settle(claim: Claim): Promise<void> {
    const runId = await runOfClaim(temporal, claim);
    if (runId === undefined) return;
    if (runId) {
      await db.enrollment.updateMany({ where: { id: claim.id, runId: null }, data: { runId } });
      return;
    }
    const settled = await settleUnstartedClaim(db, claim.id);
    if (settled === 'removed')
      logger.warn({ enrollmentId: claim.id }, 'removed an enrollment claim no run was started for');
    if (settled === 'closed')
      logger.warn(
        { enrollmentId: claim.id },
        'closed an enrollment claim a fact halted before any run was started for it',
      );
  }

  async function round(tenantId?: string): Promise<void> {
    const claims = await db.enrollment.findMany({
      where: {
        ...(tenantId ? { tenantId } : {}),
        status: 'running',
        runId: null,
        messages: { none: {} },
        startedAt: { lt: new Date(Date.now() - abandonedClaimAfterMs) },
      },
      select: { id: true, workflowId: true, startedAt: true },
      orderBy: { startedAt: 'asc' },
      take: claimsPerRound,
    });
    // One at a time: a round is rare and small, and Temporal down fails it at the first claim, to come round again.
    for (const claim of claims) await settle(claim);
  }

  return { ...periodicRounds(() => round(), { logger, what: 'claim sweeper' }), round };
}
