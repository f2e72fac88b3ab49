// The event feed: a tenant's events in sequence order, read from a cursor. Sequences are gapless per tenant and commit
// in order (common/events.ts), so a reader that asks again from the last sequence it saw misses nothing.
import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../../common/db.js';
import { eventTypes } from '../../common/events.js';
import type { Event } from '../../generated/prisma/client.js';
import { tenantOf } from '../auth.js';
import { ApiError, parseQuery } from '../errors.js';
import { pageLimit } from '../params.js';

export const feedQuerySchema = z.object({
  after: z
    .string()
    .regex(/^\d{1,18}$/, 'a sequence number')
    .default('0'),
  limit: pageLimit(1000, 100),
  type: z.string().optional(),
});
const typeSchema = z.enum(eventTypes);

const eventView = (event: Event) => ({
  id: event.id,
  sequence: Number(event.sequence),
  type: event.type,
  createdAt: event.createdAt.toISOString(),
  data: event.data,
});

/** An unknown type is a request that cannot be answered as meant (a typo would read as "no such events"): 422. */
function typeFilter(type: string | undefined): string | undefined {
  if (type === undefined) return undefined;
  const parsed = typeSchema.safeParse(type);
  if (!parsed.success)
    throw new ApiError(422, 'validation_failed', 'Unknown event type', {
      fields: { type: [`one of ${eventTypes.join(', ')}`] },
    });
  return parsed.data;
}

export function eventsRouter({ db }: { db: Db }): Router {
  const router = Router();

  router.get('/events', async (req, res) => {
    const query = parseQuery(feedQuerySchema, req.query);
    const type = typeFilter(query.type);
    const after = BigInt(query.after);
    const events = await db.event.findMany({
      where: { tenantId: tenantOf(req), sequence: { gt: after }, ...(type ? { type } : {}) },
      orderBy: { sequence: 'asc' },
      take: query.limit,
    });
    res.json({ items: events.map(eventView), next: Number(events.at(-1)?.sequence ?? after) });
  });

  return router;
}
