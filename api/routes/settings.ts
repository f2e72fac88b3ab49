import { Router } from 'express';
import { isSupportedCountry } from 'libphonenumber-js';
import { z } from 'zod';
import type { Db } from '../../common/db.js';
import { isKnownTimeZone } from '../../common/phone.js';
import type { Tenant } from '../../generated/prisma/client.js';
import { isValidWindow } from '../../workflows/decisions/send-time.js';
import { tenantOf } from '../auth.js';
import { ApiError, parseBody } from '../errors.js';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:mm');
const settingsSchema = z.strictObject({
  businessName: z.string().trim().min(1).max(100).optional(),
  defaultRegion: z.string().refine((region) => isSupportedCountry(region), 'unknown ISO 3166 region code').optional(),
  defaultTimeZone: z.string().refine(isKnownTimeZone, 'unknown IANA time zone').optional(),
  bookingUrl: z.url().nullable().optional(),
  windowStart: hhmm.optional(),
  windowEnd: hhmm.optional(),
  minGapSeconds: z.number().int().min(0).max(86_400).optional(),
  maxPerDay: z.number().int().min(1).max(100).optional(),
  expiryDays: z.number().int().min(1).max(365).optional(),
});

const settingsView = (tenant: Tenant) => ({
  businessName: tenant.businessName,
  defaultRegion: tenant.defaultRegion,
  defaultTimeZone: tenant.defaultTimeZone,
  bookingUrl: tenant.bookingUrl,
  windowStart: tenant.windowStart,
  windowEnd: tenant.windowEnd,
  minGapSeconds: tenant.minGapSeconds,
  maxPerDay: tenant.maxPerDay,
  expiryDays: tenant.expiryDays,
});

/** The tenant's settings; new enrollments take them, running ones keep what they started with. */
export function settingsRouter({ db }: { db: Db }): Router {
  const router = Router();
  router.get('/settings', async (req, res) => {
    res.json(settingsView(await db.tenant.findUniqueOrThrow({ where: { id: tenantOf(req) } })));
  });
  router.patch('/settings', async (req, res) => {
    const tenantId = tenantOf(req);
    const body = parseBody(settingsSchema, req.body);
    const current = await db.tenant.findUniqueOrThrow({ where: { id: tenantId } });
    const window = { start: body.windowStart ?? current.windowStart, end: body.windowEnd ?? current.windowEnd };
    if (!isValidWindow(window)) throw new ApiError(422, 'validation_failed', 'The sending window must start before it ends', { fields: { windowEnd: ['must be after windowStart'] } });
    res.json(settingsView(await db.tenant.update({ where: { id: tenantId }, data: body })));
  });
  return router;
}
