// The conversation with one lead: every message either way, newest first, as the CRM shows it beside the lead.
import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../../common/db.js';
import { stepOfMessage } from '../../common/event-writers.js';
import type { Message } from '../../generated/prisma/client.js';
import { tenantOf } from '../auth.js';
import { notFound, parseQuery } from '../errors.js';
import { createdBefore, idParam, newestFirst, olderPageQuery, pageAnswer } from '../params.js';

export const conversationQuerySchema = z.object(olderPageQuery(200, 50));

const messageView = (message: Message) => ({
  id: message.id,
  direction: message.direction,
  body: message.body,
  status: message.status,
  twilioSid: message.twilioSid,
  errorCode: message.errorCode,
  segments: message.segments,
  cost: message.cost?.toString() ?? null,
  enrollmentId: message.enrollmentId,
  step: stepOfMessage(message),
  appointmentId: message.appointmentId,
  skipReason: message.skipReason,
  heldReason: message.heldReason,
  intent: message.intent,
  createdAt: message.createdAt.toISOString(),
  sentAt: message.sentAt?.toISOString() ?? null,
});

export function conversationRouter({ db }: { db: Db }): Router {
  const router = Router();

  /** `before` pages back: pass the last item's createdAt as `next` says. */
  router.get('/leads/:leadId/messages', async (req, res) => {
    const tenantId = tenantOf(req);
    const leadId = idParam(req.params.leadId, 'Lead');
    const query = parseQuery(conversationQuerySchema, req.query);
    if (!(await db.lead.findFirst({ where: { id: leadId, tenantId }, select: { id: true } }))) throw notFound('Lead');
    const messages = await db.message.findMany({
      where: { tenantId, leadId, ...createdBefore(query.before) },
      orderBy: [...newestFirst],
      take: query.limit,
    });
    res.json(pageAnswer(messages, query.limit, messageView));
  });

  return router;
}
