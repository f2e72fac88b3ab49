import { Router } from 'express';
import type { Client } from '@temporalio/client';
import type { Db } from '../../common/db.js';

type Check = { ok: true } | { ok: false; error: string };

async function check(probe: () => Promise<unknown>): Promise<Check> {
  try {
    await probe();
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error) };
  }
}

export function healthRouter({ db, temporal, smsMode }: { db: Db; temporal: Client; smsMode: string }): Router {
  const router = Router();
  router.get('/health', async (_req, res) => {
    const [temporalCheck, database] = await Promise.all([
      check(() =>
        temporal.connection.withDeadline(Date.now() + 2000, () => temporal.workflowService.getSystemInfo({})),
      ),
      check(() => db.$queryRaw`select 1`),
    ]);
    const down = [temporalCheck.ok ? null : 'temporal', database.ok ? null : 'database'].filter(
      (name) => name !== null,
    );
    res.status(down.length ? 503 : 200).json({
      status: down.length ? 'unavailable' : 'ok',
      ...(down.length ? { down } : {}),
      temporal: temporalCheck,
      database,
      sms: { mode: smsMode },
    });
  });
  return router;
}
