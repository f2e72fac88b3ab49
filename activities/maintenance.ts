import type { Db } from '../common/db.js';

export function createMaintenanceActivities({ db }: { db: Db }) {
  return {
    async deleteProcessedWebhooks({ olderThanHours }: { olderThanHours: number }): Promise<number> {
      const { count } = await db.processedWebhook.deleteMany({
        where: { processedAt: { lt: new Date(Date.now() - olderThanHours * 3_600_000) } },
      });
      return count;
    },
  };
}
