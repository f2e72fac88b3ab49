// The first attempt writes the message's row, keyed by its idempotency key, before anything else: the body rendered
// for the lead as it is now, its price and sending number, and its tracked links. Every later attempt works from it.
import { ApplicationFailure, log } from '@temporalio/activity';
import type { Message, Prisma } from '../generated/prisma/client.js';
import { sendingNumberFor } from '../common/capacity/sending-number.js';
import { erasedClosedReason } from '../common/conversation.js';
import { isUniqueViolation } from '../common/db-errors.js';
import { recordMessageEvent } from '../common/event-writers.js';
import { createShortLinks, linkTracker } from '../common/links/short-links.js';
import { longestBody, renderTemplate, type TemplateValues } from '../common/templates.js';
import type { ResolvedDeliveryDeps, OutboundMessage } from './outbound-message.js';

/** The row, and whether an attempt before this one wrote it (two first attempts may race to). */
export interface AttemptRow {
  row: Message;
  isRetry: boolean;
}

const notFound = (message: string) => ApplicationFailure.create({ type: 'NotFoundError', message, nonRetryable: true });

/** The lead was erased (or its phone changed) after the attempt read it: the row must not carry what it read. */
class LeadChangedMeanwhile extends Error {}

/**
 * Writes the row with the lead's row share-locked and its phone still the one read: an erasure locks the lead before
 * it deletes the lead's messages, so it either deletes this row or, having gone first, makes the attempt read again
 * (before: a row written just after the erasure's delete kept the phone and the body rendered with the lead's name).
 * `onCreated` runs in the same transaction: the event of a row final as written, or its links.
 */
async function insertRow(
  { db }: ResolvedDeliveryDeps,
  data: Prisma.MessageUncheckedCreateInput & { leadId: string },
  onCreated?: (tx: Prisma.TransactionClient, row: Message) => Promise<unknown>,
): Promise<AttemptRow> {
  try {
    const row = await db.$transaction(async (tx) => {
      const [lead] = await tx.$queryRaw<{ phone: string; now: Date }[]>`
        SELECT phone, now() AS now FROM leads WHERE id = ${data.leadId}::uuid FOR SHARE`;
      if (lead?.phone !== data.toPhone) throw new LeadChangedMeanwhile();
      // Dated by PostgreSQL's clock, not this worker's (Prisma's default is the writer's): a retry asks Twilio for
      // messages created since the row was, and a clock running ahead would hide the one this attempt makes.
      const created = await tx.message.create({ data: { ...data, createdAt: lead.now } });
      await onCreated?.(tx, created);
      return created;
    });
    return { row, isRetry: false };
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    return {
      row: await db.message.findUniqueOrThrow({ where: { idempotencyKey: data.idempotencyKey ?? '' } }),
      isRetry: true,
    };
  }
}

/**
 * A row to send (`pending`), or one closed as skipped at once when the template needs a value the lead lacks.
 * `sendBy` is the hard deadline the run gives the message, if it has one.
 */
export async function writeFirstAttemptRow(
  deps: ResolvedDeliveryDeps,
  message: OutboundMessage,
  sendBy: Date | null,
): Promise<AttemptRow> {
  try {
    return await writeRowForLeadAsItIs(deps, message, sendBy);
  } catch (error) {
    if (!(error instanceof LeadChangedMeanwhile)) throw error;
    // Read again: an erased lead's row carries its placeholder phone and no name, and the send gate refuses it.
    return writeRowForLeadAsItIs(deps, message, sendBy);
  }
}

async function writeRowForLeadAsItIs(
  deps: ResolvedDeliveryDeps,
  message: OutboundMessage,
  sendBy: Date | null,
): Promise<AttemptRow> {
  const { db, sender, capacity, metrics, shortLinkBaseUrl } = deps;
  const lead = await db.lead.findFirst({
    where: { id: message.leadId, tenantId: message.tenantId },
    include: { tenant: { include: { senders: true } } },
  });
  if (!lead) throw notFound(`lead ${message.leadId} not found`);
  const { subject } = message;
  const base = {
    tenantId: message.tenantId,
    leadId: lead.id,
    enrollmentId: subject.kind === 'step' ? subject.enrollmentId : null,
    appointmentId: subject.kind === 'appointment' ? subject.appointmentId : null,
    direction: 'outbound' as const,
    toPhone: lead.phone,
    fromPhone: sendingNumberFor(
      lead.tenant.senders.map((owned) => owned.value),
      lead.phone,
      sender.defaultFrom,
    ),
    idempotencyKey: message.idempotencyKey,
    variant: message.variant ?? null,
    sendBy,
  };
  const writeSkipped = async (body: string, skipReason: string) => {
    const written = await insertRow(deps, { ...base, body, status: 'skipped', skipReason }, (tx, row) =>
      recordMessageEvent(tx, 'message.skipped', row, { reason: skipReason }),
    );
    if (!written.isRetry) metrics.messageRecorded('skipped');
    return written;
  };
  // A run the erasure has not reached yet renders nothing: its text (a location, a name) would outlive the erasure,
  // and the send gate refuses it anyway.
  if (lead.status === 'erased') return writeSkipped('', erasedClosedReason);
  const { template, placeholders } = message.messageFor(lead);
  const leadValues: TemplateValues = {
    firstName: lead.firstName,
    lastName: lead.lastName,
    businessName: lead.tenant.businessName,
    bookingLink: lead.tenant.bookingUrl,
  };
  const values = { ...leadValues, ...placeholders };
  // Links are shortened before the segments are counted and written with the row: the body counted is the body sent.
  const links = linkTracker(shortLinkBaseUrl);
  const rendered = renderTemplate(template, values, links.track);
  // Twilio refuses it for good (21617), which would end the whole enrollment: a template saved before its length was
  // checked filled in, or a value longer than any the API takes now.
  if (rendered.ok && rendered.body.length > longestBody)
    return writeSkipped(
      template,
      `too long once filled in: ${rendered.body.length} characters, at most ${longestBody}`,
    );
  if (rendered.ok)
    return insertRow(
      deps,
      { ...base, body: rendered.body, ...capacity.price(rendered.body), status: 'pending' },
      links.links.length ? (tx, row) => createShortLinks(tx, row, links.links, lead.tenant.linkExpiryDays) : undefined,
    );
  const skipReason = `missing value for ${rendered.missing.join(', ')}`;
  log.warn('message skipped', { idempotencyKey: message.idempotencyKey, reason: skipReason });
  return writeSkipped(template, skipReason);
}
