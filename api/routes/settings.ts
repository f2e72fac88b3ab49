import { Router } from 'express';
import { isSupportedCountry } from 'libphonenumber-js';
import { z } from 'zod';
import type { Db } from '../../common/db.js';
import { isKnownTimeZone } from '../../common/phone.js';
import { appointmentTemplatePlaceholders, unknownAppointmentPlaceholders } from '../../common/templates.js';
import type { Tenant, TenantSender } from '../../generated/prisma/client.js';
import { isValidWindow, windowTimePattern } from '../../workflows/decisions/send-time.js';
import { tenantOf } from '../auth.js';
import { ApiError, parseBody } from '../errors.js';

const hhmm = z.string().regex(windowTimePattern, 'must be HH:mm (24:00 for the end of the day)');
const appointmentTemplate = z
  .string()
  .trim()
  .min(1)
  .max(1600)
  .refine((template) => unknownAppointmentPlaceholders(template).length === 0, {
    error: (issue) => `unknown placeholder ${unknownAppointmentPlaceholders(String(issue.input)).map((name) => `{{${name}}}`).join(', ')}; known: ${appointmentTemplatePlaceholders.join(', ')}`,
  });
/** NUMERIC(14, 4): up to 10 digits before the point and 4 after; taken as a number, or as the string GET answers. */
const moneyPattern = /^\d{1,10}(\.\d{1,4})?$/;
const money = z
  .union([z.number().min(0, 'must be 0 or more').max(9_999_999_999.9999, 'must be below 10,000,000,000'), z.string()])
  .refine((amount) => moneyPattern.test(String(amount)), 'must be an amount of 0 or more with at most 4 decimal places')
  .transform(String);
/** Alerts carry spending figures: https only, except to this machine (development). */
const isSafeAlertUrl = (url: string) => {
  // zod runs this check even after the URL check failed; that one has said what is wrong.
  if (!URL.canParse(url)) return true;
  const { protocol, hostname } = new URL(url);
  return protocol === 'https:' || hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
};
const alertWebhookUrl = z.url({ protocol: /^https?$/, error: 'must be an https URL' }).max(2000).refine(isSafeAlertUrl, 'must be https (http only to localhost)');
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
  twilioAdvancedOptOut: z.boolean().optional(),
  supportContact: z.string().trim().min(1).max(100).nullable().optional(),
  appointmentConfirmationTemplate: appointmentTemplate.optional(),
  appointmentReminderTemplate: appointmentTemplate.optional(),
  appointmentCancellationTemplate: appointmentTemplate.optional(),
  sendCancellationNotice: z.boolean().optional(),
  /** Replaces the list: the numbers (E.164) and Messaging Service SIDs whose inbound messages are this tenant's. */
  /** Spending limits in the currency of SMS_COST_PER_SEGMENT; null: no limit. */
  dailyBudget: money.nullable().optional(),
  monthlyBudget: money.nullable().optional(),
  remindersBypassBudget: z.boolean().optional(),
  alertWebhookUrl: alertWebhookUrl.nullable().optional(),
  senders: z.array(z.string().regex(/^(\+[1-9]\d{6,14}|MG[0-9a-fA-F]{32})$/, 'must be an E.164 number or a Messaging Service SID')).max(100).optional(),
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
  twilioAdvancedOptOut: tenant.twilioAdvancedOptOut,
  supportContact: tenant.supportContact,
  appointmentConfirmationTemplate: tenant.appointmentConfirmationTemplate,
  appointmentReminderTemplate: tenant.appointmentReminderTemplate,
  appointmentCancellationTemplate: tenant.appointmentCancellationTemplate,
  sendCancellationNotice: tenant.sendCancellationNotice,
  senders: tenant.senders.map((sender) => sender.value).sort(),
  // Decimal strings: exact, as stored.
  dailyBudget: tenant.dailyBudget?.toString() ?? null,
  monthlyBudget: tenant.monthlyBudget?.toString() ?? null,
  remindersBypassBudget: tenant.remindersBypassBudget,
  alertWebhookUrl: tenant.alertWebhookUrl,
});

/** The tenant's settings; new enrollments take them, running ones keep what they started with. */
export function settingsRouter({ db }: { db: Db }): Router {
  const router = Router();
  router.get('/settings', async (req, res) => {
    res.json(settingsView(await db.tenant.findUniqueOrThrow({ where: { id: tenantOf(req) }, include: { senders: true } })));
  });
  router.patch('/settings', async (req, res) => {
    const tenantId = tenantOf(req);
    const body = parseBody(settingsSchema, req.body);
    const current = await db.tenant.findUniqueOrThrow({ where: { id: tenantId } });
    const window = { start: body.windowStart ?? current.windowStart, end: body.windowEnd ?? current.windowEnd };
    if (!isValidWindow(window)) throw new ApiError(422, 'validation_failed', 'The sending window must start before it ends', { fields: { windowEnd: ['must be after windowStart'] } });
    const { senders, ...settings } = body;
    if (senders) {
      const taken = await db.tenantSender.findMany({ where: { value: { in: senders }, tenantId: { not: tenantId } } });
      if (taken.length) throw new ApiError(409, 'conflict', 'A sender belongs to another tenant', { senders: taken.map((sender) => sender.value) });
    }
    const tenant = await db.$transaction(async (tx) => {
      if (senders) {
        await tx.tenantSender.deleteMany({ where: { tenantId } });
        await tx.tenantSender.createMany({ data: [...new Set(senders)].map((value) => ({ value, tenantId })) });
      }
      return tx.tenant.update({ where: { id: tenantId }, data: settings, include: { senders: true } });
    });
    res.json(settingsView(tenant));
  });
  return router;
}
