import { ApplicationFailure } from '@temporalio/activity';
import type { Db } from '../common/db.js';
import { isUniqueViolation } from '../common/db-errors.js';
import { recordEvent } from '../common/events.js';
import type { ZonedTenant } from '../common/analytics/range.js';
import { relativeChange, weekJustEnded, type DateRange } from '../common/reports/weekly.js';
import type { Prisma } from '../generated/prisma/client.js';

/** A tenant's totals over a range of its calendar dates (a Funnel of the analytics overview, or plain counts). */
export type TotalsOf = (tenant: ZonedTenant, range: DateRange) => Promise<Prisma.InputJsonObject>;

export interface WeeklyReportInput {
  tenantId: string;
  /** When the run started (ISO): the report covers the Monday-to-Sunday week that ended before it. */
  at: string;
}

export interface WeeklyReportResult {
  weekStart: string;
  eventId: string;
  /** False when an earlier attempt or run had already recorded this week's report. */
  recorded: boolean;
}

export function createWeeklyReportActivities({ db, totalsOf }: { db: Db; totalsOf: TotalsOf }) {
  return {
    /** Records the week's `report.weekly` event (and so sends it to the tenant's webhooks), once per tenant and week. */
    async recordWeeklyReport({ tenantId, at }: WeeklyReportInput): Promise<WeeklyReportResult> {
      const tenant = await db.tenant.findUnique({
        where: { id: tenantId },
        select: { id: true, defaultTimeZone: true },
      });
      if (!tenant)
        throw ApplicationFailure.create({
          type: 'NotFoundError',
          message: `No tenant ${tenantId}`,
          nonRetryable: true,
        });
      const { week, previous } = weekJustEnded(new Date(at), tenant.defaultTimeZone);
      const key = { tenantId_weekStart: { tenantId, weekStart: week.from } };
      const done = await db.weeklyReport.findUnique({ where: key });
      if (done) return { weekStart: week.from, eventId: done.eventId, recorded: false };
      const [totals, before] = await Promise.all([totalsOf(tenant, week), totalsOf(tenant, previous)]);
      try {
        const event = await db.$transaction(async (tx) => {
          const recorded = await recordEvent(tx, {
            tenantId,
            type: 'report.weekly',
            data: {
              weekStart: week.from,
              weekEnd: week.to,
              timeZone: tenant.defaultTimeZone,
              totals,
              previous: before,
              change: relativeChange(totals, before),
            },
          });
          await tx.weeklyReport.create({ data: { tenantId, weekStart: week.from, eventId: recorded.id } });
          return recorded;
        });
        return { weekStart: week.from, eventId: event.id, recorded: true };
      } catch (error) {
        // A concurrent attempt recorded the week first: its event stands, this one's rolled back with the transaction.
        if (!isUniqueViolation(error)) throw error;
        const first = await db.weeklyReport.findUniqueOrThrow({ where: key });
        return { weekStart: week.from, eventId: first.eventId, recorded: false };
      }
    },
  };
}
