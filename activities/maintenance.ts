import type { Db } from '../common/db.js';

export function createMaintenanceActivities({ db }: { db: Db }) {
  return {
    /**
     * Processed-webhook keys past the cut-off, and status callbacks parked as long for a SID no message row ever
     * recorded (api/webhooks/status.ts): how many of the two were deleted.
     */
    async deleteProcessedWebhooks({ olderThanHours }: { olderThanHours: number }): Promise<number> {
      const cutOff = new Date(Date.now() - olderThanHours * 3_600_000);
      const [processed, parked] = await db.$transaction([
        db.processedWebhook.deleteMany({ where: { processedAt: { lt: cutOff } } }),
        db.earlyStatusCallback.deleteMany({ where: { receivedAt: { lt: cutOff } } }),
      ]);
      return processed.count + parked.count;
    },
  };
}
