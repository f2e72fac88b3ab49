import { Router } from 'express';
import { z } from 'zod';
import { leadCreatedEvent } from '../../common/event-writers.js';
import { recordEvent } from '../../common/events.js';
import type { WebhookMetrics } from '../../common/metrics.js';
import { erasureSource } from '../../common/opt-outs.js';
import { zoneFromNumber } from '../../common/lead-time-zone.js';
import { normalisePhone, zoneConflicts } from '../../common/phone.js';
import { Prisma, type Lead } from '../../generated/prisma/client.js';
import { tenantOf } from '../auth.js';
import { ApiError, leadErased, notFound, parseBody, parseQuery } from '../errors.js';
import { eraseLead, type ErasureDeps } from '../lead-erasure.js';
import {
  createdBefore,
  idParam,
  messageValue,
  newestFirst,
  olderPageQuery,
  pageAnswer,
  timeZoneField,
} from '../params.js';

const name = messageValue(100).min(1);
export const createLeadSchema = z.strictObject({
  phone: z.string().min(1).max(40),
  firstName: name.optional(),
  lastName: name.optional(),
  timeZone: timeZoneField.optional(),
});
export const updateLeadSchema = z.strictObject({
  firstName: name.nullable().optional(),
  lastName: name.nullable().optional(),
  timeZone: timeZoneField.optional(),
});
export const listQuerySchema = z.object(olderPageQuery(200, 50));

const leadView = (lead: Lead) => ({
  id: lead.id,
  phone: lead.phone,
  firstName: lead.firstName,
  lastName: lead.lastName,
  timeZone: lead.timeZone,
  status: lead.status,
  closedReason: lead.closedReason,
  createdAt: lead.createdAt.toISOString(),
  updatedAt: lead.updatedAt.toISOString(),
});

export function leadsRouter(deps: ErasureDeps & { metrics: Pick<WebhookMetrics, 'optOutRecorded'> }): Router {
  const { db, metrics } = deps;
  const router = Router();

  router.post('/leads', async (req, res) => {
    const tenantId = tenantOf(req);
    const body = parseBody(createLeadSchema, req.body);
    const tenant = await db.tenant.findUniqueOrThrow({ where: { id: tenantId } });
    const phone = normalisePhone(body.phone, tenant.defaultRegion);
    if (!phone) {
      throw new ApiError(422, 'validation_failed', 'The request body is invalid', {
        fields: { phone: [`not a possible phone number for region ${tenant.defaultRegion}`] },
      });
    }
    /** The tenant's lead of the phone, unless the request gives it another zone than the one it is texted in. */
    const existingAsAsked = (lead: Lead) => {
      if (!zoneConflicts(body.timeZone, lead, tenant.defaultTimeZone)) return leadView(lead);
      throw new ApiError(409, 'conflict', `The lead of this phone is saved in ${lead.timeZone}`, {
        reason: 'time_zone_conflict',
        leadId: lead.id,
        timeZone: lead.timeZone,
        fix: `change it with PATCH /v1/leads/${lead.id}, or leave timeZone out`,
      });
    };
    const existing = await db.lead.findUnique({ where: { tenantId_phone: { tenantId, phone } } });
    if (existing) return void res.status(200).json(existingAsAsked(existing));
    const zone = body.timeZone ? { timeZone: body.timeZone } : zoneFromNumber(phone, tenant.defaultTimeZone);
    if ('zoneNeeded' in zone)
      throw new ApiError(422, 'validation_failed', 'The request body is invalid', {
        fields: { timeZone: [zone.zoneNeeded] },
      });
    try {
      const lead = await db.$transaction(async (tx) => {
        const created = await tx.lead.create({
          data: {
            tenantId,
            phone,
            firstName: body.firstName ?? null,
            lastName: body.lastName ?? null,
            timeZone: zone.timeZone,
          },
        });
        await recordEvent(tx, leadCreatedEvent(created));
        return created;
      });
      res.status(201).location(`/v1/leads/${lead.id}`).json(leadView(lead));
    } catch (error) {
      // Two requests for the same new phone raced; the loser answers with the winner's lead.
      if (!(error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002')) throw error;
      res
        .status(200)
        .json(existingAsAsked(await db.lead.findUniqueOrThrow({ where: { tenantId_phone: { tenantId, phone } } })));
    }
  });

  router.get('/leads/:leadId', async (req, res) => {
    const lead = await db.lead.findFirst({
      where: { id: idParam(req.params.leadId, 'Lead'), tenantId: tenantOf(req) },
    });
    if (!lead) throw notFound('Lead');
    res.json(leadView(lead));
  });

  router.patch('/leads/:leadId', async (req, res) => {
    const tenantId = tenantOf(req);
    const id = idParam(req.params.leadId, 'Lead');
    const body = parseBody(updateLeadSchema, req.body);
    // Erased is checked in the update itself, so an erasure that commits first is never undone.
    const { count } = await db.lead.updateMany({ where: { id, tenantId, status: { not: 'erased' } }, data: body });
    if (count === 0)
      throw (await db.lead.findFirst({ where: { id, tenantId }, select: { id: true } }))
        ? leadErased()
        : notFound('Lead');
    res.json(leadView(await db.lead.findUniqueOrThrow({ where: { id } })));
  });

  /** Erasure on request (api/lead-erasure.ts); erasing it again is a 404, as its data is gone. */
  router.delete('/leads/:leadId', async (req, res) => {
    const tenantId = tenantOf(req);
    const lead = await db.lead.findFirst({
      where: { id: idParam(req.params.leadId, 'Lead'), tenantId, status: { not: 'erased' } },
    });
    if (!lead || !(await eraseLead(deps, lead, req.log))) throw notFound('Lead');
    metrics.optOutRecorded(erasureSource);
    res.status(200).json({ id: lead.id, status: 'erased' });
  });

  router.get('/leads', async (req, res) => {
    const query = parseQuery(listQuerySchema, req.query);
    const leads = await db.lead.findMany({
      where: { tenantId: tenantOf(req), ...createdBefore(query.before) },
      orderBy: [...newestFirst],
      take: query.limit,
    });
    res.json(pageAnswer(leads, query.limit, leadView));
  });

  return router;
}
