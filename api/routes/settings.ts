import type { Client } from '@temporalio/client';
import { Router } from 'express';
import type { Logger } from 'pino';
import { isSupportedCountry } from 'libphonenumber-js';
import { z } from 'zod';
import { isOptOutWord, replyWordKey } from '../../common/appointment-replies.js';
import type { Db } from '../../common/db.js';
import { tenantTimeZone } from '../../common/tenant-time-zone.js';
import {
  appointmentTemplatePlaceholders,
  controlCharactersMessage,
  hasControlCharacters,
  invalidLinkMessage,
  invalidLinkPlaceholders,
  isHttpUrl,
  longestBody,
  longestFilledIn,
  placeholderMistakes,
  tooLongFilledInMessage,
} from '../../common/templates.js';
import type { Tenant, TenantSender } from '../../generated/prisma/client.js';
import {
  isValidWindow,
  minWindowMinutes,
  windowMinutes,
  windowTimePattern,
} from '../../workflows/decisions/send-time.js';
import { tenantOf } from '../auth.js';
import { checkTarget, UnsafeUrlError, type UrlPolicy } from '../../common/webhooks/url-safety.js';
import { ApiError, parseBody } from '../errors.js';
import { messageValue, timeZoneField } from '../params.js';
import { ensureWeeklyReportSchedule } from '../../worker/schedules.js';
import { newWebhookSecret } from '../../common/webhooks/secrets.js';

const hhmm = z.string().regex(windowTimePattern, 'must be HH:mm (24:00 for the end of the day)');
const appointmentTemplate = z
  .string()
  .trim()
  .min(1)
  .max(longestBody)
  .refine((template) => !placeholderMistakes(template, appointmentTemplatePlaceholders), {
    error: (issue) => placeholderMistakes(String(issue.input), appointmentTemplatePlaceholders),
  })
  .refine((template) => invalidLinkPlaceholders(template).length === 0, {
    error: (issue) => invalidLinkMessage(invalidLinkPlaceholders(String(issue.input))),
  })
  .refine((template) => !hasControlCharacters(template), controlCharactersMessage)
  .refine((template) => longestFilledIn(template) <= longestBody, {
    error: (issue) => tooLongFilledInMessage(String(issue.input)),
  });
/** Compared as replies are (case, spaces, punctuation ignored); an opt-out word would be an opt-out, not a reply. */
const appointmentWord = z
  .string()
  .trim()
  .min(1)
  .max(20)
  .refine((word) => replyWordKey(word).length > 0, 'must have a letter, digit or emoji')
  .refine((word) => !isOptOutWord(word), {
    error: (issue) =>
      `${String(issue.input)} is an opt-out keyword (carriers and Twilio unsubscribe whoever sends it): it cannot be an appointment word`,
  });
const appointmentWords = z.array(appointmentWord).min(1, 'give at least one word').max(10, 'at most 10 words');
/** NUMERIC(14, 4): up to 10 digits before the point and 4 after; taken as a number, or as the string GET answers. */
const moneyPattern = /^\d{1,10}(\.\d{1,4})?$/;
const money = z
  .union([z.number().min(0, 'must be 0 or more').max(9_999_999_999.9999, 'must be below 10,000,000,000'), z.string()])
  .refine((amount) => moneyPattern.test(String(amount)), 'must be an amount of 0 or more with at most 4 decimal places')
  .transform(String);
/** Where budget alerts go; where it resolves is checked when it is saved and again at every alert (SSRF). */
const alertWebhookUrl = z.url({ protocol: /^https?$/, error: 'must be an https URL' }).max(2000);
export const settingsSchema = z.strictObject({
  businessName: messageValue(100).min(1).optional(),
  defaultRegion: z
    .string()
    .refine((region) => isSupportedCountry(region), 'unknown ISO 3166 region code')
    .optional(),
  defaultTimeZone: timeZoneField.optional(),
  bookingUrl: z.string().max(500).refine(isHttpUrl, 'must be an absolute http or https URL').nullable().optional(),
  windowStart: hhmm.optional(),
  windowEnd: hhmm.optional(),
  minGapSeconds: z.number().int().min(0).max(86_400).optional(),
  maxPerDay: z.number().int().min(1).max(100).optional(),
  expiryDays: z.number().int().min(1).max(365).optional(),
  /** Days a tracked link works after its message was written (docs/links.md). */
  linkExpiryDays: z.number().int().min(1).max(3650).optional(),
  twilioAdvancedOptOut: z.boolean().optional(),
  supportContact: messageValue(100).min(1).nullable().optional(),
  appointmentConfirmationTemplate: appointmentTemplate.optional(),
  appointmentReminderTemplate: appointmentTemplate.optional(),
  appointmentCancellationTemplate: appointmentTemplate.optional(),
  sendCancellationNotice: z.boolean().optional(),
  sendRescheduleNotice: z.boolean().optional(),
  appointmentConfirmWords: appointmentWords.optional(),
  appointmentRescheduleWords: appointmentWords.optional(),
  appointmentRescheduleReplyTemplate: appointmentTemplate.optional(),
  skipRemindersAfterConfirm: z.boolean().optional(),
  /** Spending limits in the currency of SMS_COST_PER_SEGMENT; null: no limit. */
  dailyBudget: money.nullable().optional(),
  monthlyBudget: money.nullable().optional(),
  remindersBypassBudget: z.boolean().optional(),
  alertWebhookUrl: alertWebhookUrl.nullable().optional(),
});

const settingsView = (tenant: Tenant & { senders: TenantSender[] }) => ({
  businessName: tenant.businessName,
  defaultRegion: tenant.defaultRegion,
  defaultTimeZone: tenant.defaultTimeZone,
  bookingUrl: tenant.bookingUrl,
  windowStart: tenant.windowStart,
  windowEnd: tenant.windowEnd,
  minGapSeconds: tenant.minGapSeconds,
  maxPerDay: tenant.maxPerDay,
  expiryDays: tenant.expiryDays,
  linkExpiryDays: tenant.linkExpiryDays,
  twilioAdvancedOptOut: tenant.twilioAdvancedOptOut,
  supportContact: tenant.supportContact,
  appointmentConfirmationTemplate: tenant.appointmentConfirmationTemplate,
  appointmentReminderTemplate: tenant.appointmentReminderTemplate,
  appointmentCancellationTemplate: tenant.appointmentCancellationTemplate,
  sendCancellationNotice: tenant.sendCancellationNotice,
  sendRescheduleNotice: tenant.sendRescheduleNotice,
  appointmentConfirmWords: tenant.appointmentConfirmWords,
  appointmentRescheduleWords: tenant.appointmentRescheduleWords,
  appointmentRescheduleReplyTemplate: tenant.appointmentRescheduleReplyTemplate,
  skipRemindersAfterConfirm: tenant.skipRemindersAfterConfirm,
  senders: tenant.senders.map((sender) => sender.value).sort(),
  // Decimal strings: exact, as stored.
  dailyBudget: tenant.dailyBudget?.toString() ?? null,
  monthlyBudget: tenant.monthlyBudget?.toString() ?? null,
  remindersBypassBudget: tenant.remindersBypassBudget,
  alertWebhookUrl: tenant.alertWebhookUrl,
});

/** Alerts carry spending figures: https to a public address, unless WEBHOOK_ALLOW_PRIVATE_URLS (development). */
async function checkAlertUrl(url: string, policy: UrlPolicy): Promise<void> {
  try {
    await checkTarget(url, policy);
  } catch (error) {
    if (!(error instanceof UnsafeUrlError)) throw error;
    throw new ApiError(422, 'unsafe_url', `The URL cannot receive alerts: ${error.reason}`, {
      fields: { alertWebhookUrl: [error.reason] },
    });
  }
}

/** Inbound messages find their tenant by its senders, so a tenant key claiming one could take another's STOPs. */
const sendersOperatorOnly = () =>
  new ApiError(
    403,
    'senders_operator_only',
    'Senders are assigned by the operator (PUT /v1/operator/senders/:value); GET /v1/settings lists yours',
    {
      fields: { senders: ['set by the operator only'] },
    },
  );

/** The tenant's settings; new enrollments take them, running ones keep what they started with. */
export interface SettingsDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  logger: Logger;
  allowPrivateWebhookUrls?: boolean | undefined;
}

export function settingsRouter({
  db,
  temporal,
  taskQueue,
  logger,
  allowPrivateWebhookUrls = false,
}: SettingsDeps): Router {
  const router = Router();
  router.get('/settings', async (req, res) => {
    res.json(
      settingsView(await db.tenant.findUniqueOrThrow({ where: { id: tenantOf(req) }, include: { senders: true } })),
    );
  });
  router.patch('/settings', async (req, res) => {
    const tenantId = tenantOf(req);
    if (typeof req.body === 'object' && req.body !== null && Object.hasOwn(req.body, 'senders'))
      throw sendersOperatorOnly();
    const body = parseBody(settingsSchema, req.body);
    if (body.alertWebhookUrl)
      await checkAlertUrl(body.alertWebhookUrl, { allowPrivate: allowPrivateWebhookUrls, owner: tenantId });
    if (body.defaultTimeZone) body.defaultTimeZone = await savedTimeZone(db, body.defaultTimeZone);
    // Checked against the row as it is when written: two changes at once (one moving the window's start, one its end)
    // each passed against the other's old half and together saved a window that ends before it starts.
    const { current, tenant, alertWebhookSecret } = await db.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT 1 FROM tenants WHERE id = ${tenantId}::uuid FOR NO KEY UPDATE`;
      const before = await tx.tenant.findUniqueOrThrow({ where: { id: tenantId } });
      checkSettings(body, before);
      // An alert URL set anew, or set while it has no secret (one saved before alerts were signed), gets a secret of its
      // own, answered here once; the same URL again keeps its secret, so a client sending all its settings each time
      // does not change it. No URL, no secret.
      const newAlertUrl = body.alertWebhookUrl !== undefined && body.alertWebhookUrl !== before.alertWebhookUrl;
      const issuesSecret = !!body.alertWebhookUrl && (newAlertUrl || !before.alertWebhookSecret);
      const alertWebhookSecret = issuesSecret ? newWebhookSecret() : null;
      const after = await tx.tenant.update({
        where: { id: tenantId },
        data: { ...body, ...(issuesSecret || newAlertUrl ? { alertWebhookSecret } : {}) },
        include: { senders: true },
      });
      return { current: before, tenant: after, alertWebhookSecret };
    });
    if (tenant.defaultTimeZone !== current.defaultTimeZone) {
      // Not awaited: the settings are saved whether Temporal answers or not; a worker start moves it otherwise.
      ensureWeeklyReportSchedule(temporal, taskQueue, tenant).catch((error: unknown) =>
        logger.warn({ err: error, tenantId }, 'weekly report schedule not moved to the new zone yet'),
      );
    }
    res.json({ ...settingsView(tenant), ...(alertWebhookSecret ? { alertWebhookSecret } : {}) });
  });
  return router;
}

async function savedTimeZone(db: Db, zone: string): Promise<string> {
  const saved = await tenantTimeZone(db, zone);
  if (saved) return saved;
  throw new ApiError(422, 'validation_failed', 'The time zone is not one the database knows', {
    fields: {
      defaultTimeZone: ['unknown IANA time zone in the database; give a Region/City name such as Australia/Sydney'],
    },
  });
}

/** What a change may not leave behind, judged with the row's other settings: a window that ends first, a shared word. */
function checkSettings(body: z.infer<typeof settingsSchema>, current: Tenant): void {
  const window = { start: body.windowStart ?? current.windowStart, end: body.windowEnd ?? current.windowEnd };
  if (!isValidWindow(window))
    throw new ApiError(422, 'validation_failed', 'The sending window must start before it ends', {
      fields: { windowEnd: ['must be after windowStart'] },
    });
  // Judged when the window changes: a shorter one saved before the rule does not block other settings.
  if ((body.windowStart || body.windowEnd) && windowMinutes(window) < minWindowMinutes)
    throw new ApiError(
      422,
      'validation_failed',
      `The sending window must be open ${minWindowMinutes} minutes at least`,
      {
        fields: { windowEnd: [`must be at least ${minWindowMinutes} minutes after windowStart`] },
      },
    );
  const confirmWords = body.appointmentConfirmWords ?? current.appointmentConfirmWords;
  const shared = (body.appointmentRescheduleWords ?? current.appointmentRescheduleWords).filter((word) =>
    confirmWords.some((other) => replyWordKey(other) === replyWordKey(word)),
  );
  if (shared.length) {
    const field = body.appointmentRescheduleWords ? 'appointmentRescheduleWords' : 'appointmentConfirmWords';
    throw new ApiError(422, 'validation_failed', 'A word cannot both confirm an appointment and ask to reschedule it', {
      fields: {
        [field]: [
          `also a ${field === 'appointmentRescheduleWords' ? 'confirm' : 'reschedule'} word: ${shared.join(', ')}`,
        ],
      },
    });
  }
}
