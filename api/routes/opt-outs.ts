import { Router, type Request } from 'express';
import { z } from 'zod';
import { lockConversation } from '../../common/conversation.js';
import type { Db } from '../../common/db.js';
import type { WebhookMetrics } from '../../common/metrics.js';
import {
  findNumberBlock,
  findOptOut,
  phoneHashes,
  recordOptIn,
  recordOptOut,
  serviceConsentSources,
} from '../../common/opt-outs.js';
import { queueSignalsForPhone, signalNames } from '../../common/pending-signals.js';
import { normalisePhone } from '../../common/phone.js';
import type { OptOut } from '../../generated/prisma/client.js';
import { tenantOf } from '../auth.js';
import { ApiError, notFound, parseBody, parseQuery } from '../errors.js';
import { deliverOrLeaveQueued, type SignalRelay } from '../signal-relay.js';
import { createdBefore, newestFirst, olderPageQuery, pageAnswer } from '../params.js';

/** What `leadfollowup_opt_outs_total` counts an opt-out recorded through the API as, whatever its `source`. */
const apiOptOutSource = 'api';

const tenantSource = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .refine((source) => !serviceConsentSources.includes(source), 'reserved for the consent the service records itself');
export const addSchema = z.strictObject({
  phone: z.string().min(1).max(40),
  source: tenantSource.default(apiOptOutSource),
  note: z.string().trim().max(500).optional(),
});
export const removeSchema = z.strictObject({
  consentSource: tenantSource,
  note: z.string().trim().max(500).optional(),
});
export const listSchema = z.strictObject(olderPageQuery(500, 100));

const optOutView = (optOut: OptOut) => ({
  phone: optOut.phone,
  source: optOut.source,
  messageSid: optOut.messageSid,
  createdAt: optOut.createdAt.toISOString(),
});

export function optOutsRouter({
  db,
  signalRelay,
  metrics,
  defaultSender,
}: {
  db: Db;
  signalRelay: SignalRelay;
  metrics: Pick<WebhookMetrics, 'optOutRecorded'>;
  /** What the tenant's leads hear from when it has no number of its own: a STOP to it may block a phone. */
  defaultSender: string;
}): Router {
  const router = Router();

  async function phoneParam(req: Request, value: unknown): Promise<string> {
    const tenant = await db.tenant.findUniqueOrThrow({ where: { id: tenantOf(req) } });
    const phone = typeof value === 'string' ? normalisePhone(value, tenant.defaultRegion) : null;
    if (!phone)
      throw new ApiError(422, 'validation_failed', 'The phone number is invalid', {
        fields: { phone: [`not a possible phone number for region ${tenant.defaultRegion}`] },
      });
    return phone;
  }

  router.get('/opt-outs', async (req, res) => {
    const query = parseQuery(listSchema, req.query);
    const optOuts = await db.optOut.findMany({
      where: { tenantId: tenantOf(req), ...createdBefore(query.before) },
      orderBy: [...newestFirst],
      take: query.limit,
    });
    res.json(pageAnswer(optOuts, query.limit, optOutView));
  });

  /**
   * An opt-out from another channel: the same registry, consent log and signals as a STOP. Whether it existed is
   * read under the conversation's lock, so of concurrent requests exactly one answers 201.
   */
  router.post('/opt-outs', async (req, res) => {
    const tenantId = tenantOf(req);
    const body = parseBody(addSchema, req.body);
    const phone = await phoneParam(req, body.phone);
    const { existed, optOut, signalIds } = await db.$transaction(async (tx) => {
      const existed = Boolean(
        await recordOptOut(tx, { tenantId, phone, source: body.source, note: body.note ?? null }),
      );
      const signalIds = await queueSignalsForPhone(tx, tenantId, phone, {
        signal: signalNames.optOut,
        payload: { source: body.source },
      });
      return { existed, optOut: (await findOptOut(tx, tenantId, phone)) as OptOut, signalIds };
    });
    await deliverOrLeaveQueued(signalRelay, req.log, signalIds);
    // The source is the tenant's own words: a label of its own per wording would grow the metric without bound.
    if (!existed) metrics.optOutRecorded(apiOptOutSource);
    res.status(existed ? 200 : 201).json(optOutView(optOut));
  });

  /**
   * Removing an opt-out needs the consent that allows it; the consent log keeps it, and it also gets the tenant past
   * the phone's STOP to the number it texts the phone from (which another tenant's texts may have drawn). Decided under
   * the conversation's lock: of concurrent removals one answers 200 and the others 404, logging nothing.
   */
  router.delete('/opt-outs/:phone', async (req, res) => {
    const tenantId = tenantOf(req);
    const body = parseBody(removeSchema, req.body);
    const phone = await phoneParam(req, req.params.phone);
    await db.$transaction(async (tx) => {
      await lockConversation(tx, tenantId, phone);
      const standing =
        (await findOptOut(tx, tenantId, phone)) ?? (await findNumberBlock(tx, tenantId, phone, defaultSender));
      if (!standing) throw notFound('Opt-out');
      await recordOptIn(
        tx,
        { tenantId, phone, source: body.consentSource, note: body.note ?? null },
        { liftsErased: true },
      );
    });
    res.json({ phone, optedOut: false });
  });

  router.get('/opt-outs/:phone/consent', async (req, res) => {
    const tenantId = tenantOf(req);
    const phone = await phoneParam(req, req.params.phone);
    // Entries of a phone erased before the hash was keyed keep the old one for good: the log shows them too.
    const [events, numberBlock] = await Promise.all([
      db.consentEvent.findMany({
        where: { tenantId, phoneHash: { in: phoneHashes(phone) } },
        orderBy: { createdAt: 'asc' },
      }),
      findNumberBlock(db, tenantId, phone, defaultSender),
    ]);
    res.json({
      phone,
      numberBlock,
      items: events.map((event) => ({
        kind: event.kind,
        source: event.source,
        messageSid: event.messageSid,
        note: event.note,
        createdAt: event.createdAt.toISOString(),
      })),
    });
  });

  return router;
}
