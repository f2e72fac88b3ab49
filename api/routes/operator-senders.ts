import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../../common/db.js';
import { assignSender, listSenders, unassignSender } from '../../common/senders.js';
import { ApiError, notFound, parseBody } from '../errors.js';
import { uuidField } from '../params.js';

export const assignSchema = z.strictObject({ tenantId: uuidField, reassign: z.boolean().optional() });

/**
 * The operator's sender assignments (mounted behind requireOperator): which tenant each Twilio number or Messaging
 * Service belongs to, and so which tenant its inbound messages reach. The deployment's default sender is shared and
 * belongs to nobody.
 */
export function operatorSendersRouter({ db, defaultSender }: { db: Db; defaultSender: string }): Router {
  const router = Router();
  router.get('/senders', async (_req, res) => {
    res.json({ defaultSender, senders: await listSenders(db) });
  });
  router.put('/senders/:value', async (req, res) => {
    const { value } = req.params;
    const { tenantId, reassign = false } = parseBody(assignSchema, req.body);
    const result = await assignSender(db, {
      value,
      tenantId,
      reassign,
      actor: 'operator',
      sharedSenders: [defaultSender],
    });
    switch (result.kind) {
      case 'invalid':
        throw new ApiError(422, 'validation_failed', 'The sender is invalid', {
          fields: { value: ['must be an E.164 number or a Messaging Service SID (MG and 32 hex digits)'] },
        });
      case 'shared':
        throw new ApiError(
          409,
          'shared_sender',
          'This is the deployment’s default sender: every tenant without a sender of its own shares it',
          { value },
        );
      case 'unknown_tenant':
        throw notFound('Tenant');
      case 'taken':
        throw new ApiError(409, 'sender_taken', 'Another tenant owns this sender; send "reassign": true to move it', {
          value,
          tenantId: result.ownerTenantId,
        });
      default:
        res.json({ ...result.sender, previousTenantId: result.previousTenantId, changed: result.kind === 'assigned' });
    }
  });
  router.delete('/senders/:value', async (req, res) => {
    const removed = await unassignSender(db, { value: req.params.value, actor: 'operator' });
    if (!removed) throw notFound('Sender');
    res.json({ value: req.params.value, tenantId: removed.tenantId, unassigned: true });
  });
  return router;
}
