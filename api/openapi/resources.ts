// What the API answers with, as zod schemas for the OpenAPI document. The route files build these shapes; the
// OpenAPI test checks real answers against the document, so a field added there and not here fails it.
import { z } from 'zod';
import { eventTypes } from '../../common/events.js';
import { webhookDeliveryStatuses } from '../../common/webhooks/deliveries.js';
import { MessageDirection } from '../../generated/prisma/enums.js';

const id = z.uuid();
const instant = z.iso.datetime({ offset: true });
const nullableInstant = instant.nullable();
/** Another page: the `before` to send next, or null on the last page. */
const next = z.string().nullable().meta({
  description:
    "Pass as `before` for the next page (the last item's instant the list is ordered by, createdAt unless the list says, and its id); null on the last page",
  example: '2026-12-06T10:00:00.000Z_0b7e4a9e-3c1d-4f6a-9b1e-2f4c8d6a1e30',
});

export const errorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'validation_failed' }),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .meta({ id: 'Error', description: 'The one error shape every endpoint answers with' });

export const lead = z
  .object({
    id,
    phone: z.string().meta({ description: 'E.164; `erased:<id>` once erased' }),
    firstName: z.string().nullable(),
    lastName: z.string().nullable(),
    timeZone: z.string(),
    status: z.string(),
    closedReason: z.string().nullable(),
    createdAt: instant,
    updatedAt: instant,
  })
  .meta({ id: 'Lead' });
export const leadPage = z.object({ items: z.array(lead), next }).meta({ id: 'LeadPage' });
export const erasedLead = z.object({ id, status: z.literal('erased') }).meta({ id: 'ErasedLead' });

export const sequence = z
  .object({
    id,
    name: z.string(),
    version: z.number().int(),
    steps: z.array(z.looseObject({ delaySeconds: z.number().int(), template: z.string() })),
    createdAt: instant,
  })
  .meta({ id: 'Sequence' });

const enrollmentFields = {
  id,
  leadId: id,
  sequenceId: id,
  status: z.string(),
  closedReason: z.string().nullable(),
  haltedBy: z.string().nullable().meta({
    description:
      'What ended the enrollment before its run heard of it (replied, booked, opted_out, cancelled, erased, undeliverable): the send gate refuses its steps from then on',
  }),
  haltedAt: nullableInstant,
  workflowId: z.string(),
  runId: z.string().nullable(),
  temporalUiUrl: z.string().meta({ description: "The run in Temporal's UI, for operators" }),
  startedAt: instant,
  closedAt: nullableInstant,
};
export const enrollment = z.object(enrollmentFields).meta({ id: 'Enrollment' });
export const enrollmentPage = z.object({ items: z.array(enrollment), next }).meta({ id: 'EnrollmentPage' });
export const enrollmentDetail = z
  .looseObject({
    ...enrollmentFields,
    live: z.looseObject({}).nullable().meta({ description: "The workflow's own state, from a query" }),
    liveError: z.enum(['temporal_unavailable', 'query_failed', 'no_run']).optional(),
    capacityHold: z.looseObject({}).nullable().optional(),
  })
  .meta({ id: 'EnrollmentDetail' });
export const enrollmentChange = z
  .looseObject({ ...enrollmentFields, live: z.looseObject({}) })
  .meta({ id: 'EnrollmentChange' });
export const enrollmentCancel = z
  .object({ ...enrollmentFields, cancelRequested: z.literal(true) })
  .meta({ id: 'EnrollmentCancel' });
export const enrollmentBatch = z
  .object({
    dryRun: z.boolean(),
    sequenceId: id,
    rows: z.number().int(),
    summary: z.record(z.string(), z.number().int()),
    results: z.array(z.looseObject({ outcome: z.string() })),
  })
  .meta({ id: 'EnrollmentBatch' });

const appointmentFields = {
  id,
  leadId: id,
  enrollmentId: id.nullable(),
  status: z.string(),
  closedReason: z.string().nullable(),
  startsAt: instant,
  startsAtLocal: z.string().nullable(),
  timeZone: z.string(),
  durationMinutes: z.number().int(),
  location: z.string().nullable(),
  notes: z.string().nullable(),
  reminderOffsetsSeconds: z.array(z.number().int()),
  reminders: z.array(
    z.object({ offsetSeconds: z.number().int(), dueAt: instant, status: z.string(), sentAt: nullableInstant }),
  ),
  nextReminderAt: nullableInstant,
  confirmedAt: nullableInstant,
  rescheduleRequestedAt: nullableInstant,
  workflowId: z.string(),
  runId: z.string().nullable(),
  temporalUiUrl: z.string(),
  createdAt: instant,
  closedAt: nullableInstant,
};
export const appointment = z.object(appointmentFields).meta({ id: 'Appointment' });
export const appointmentPage = z.object({ items: z.array(appointment), next }).meta({ id: 'AppointmentPage' });
export const appointmentDetail = z
  .looseObject({ ...appointmentFields, live: z.looseObject({}).nullable().optional() })
  .meta({ id: 'AppointmentDetail' });

export const message = z
  .object({
    id,
    direction: z.enum(MessageDirection),
    body: z.string().nullable(),
    status: z.string(),
    twilioSid: z.string().nullable(),
    errorCode: z.number().int().nullable(),
    segments: z.number().int().nullable(),
    cost: z.string().nullable(),
    enrollmentId: id.nullable(),
    step: z.number().int().nullable(),
    appointmentId: id.nullable(),
    skipReason: z.string().nullable(),
    heldReason: z.string().nullable(),
    intent: z.string().nullable(),
    createdAt: instant,
    sentAt: nullableInstant,
  })
  .meta({ id: 'Message' });
export const messagePage = z.object({ items: z.array(message), next }).meta({ id: 'MessagePage' });

export const event = z
  .object({ id, sequence: z.number().int(), type: z.enum(eventTypes), createdAt: instant, data: z.unknown() })
  .meta({ id: 'Event' });
export const eventFeed = z
  .object({ items: z.array(event), next: z.number().int().meta({ description: 'Pass as `after` to read on' }) })
  .meta({ id: 'EventFeed' });

export const optOut = z
  .object({
    phone: z
      .string()
      .nullable()
      .meta({ description: 'Null once the lead was erased: the opt-out stands under a keyed hash' }),
    source: z.string(),
    messageSid: z.string().nullable(),
    createdAt: instant,
  })
  .meta({ id: 'OptOut' });
export const optOutPage = z.object({ items: z.array(optOut), next }).meta({ id: 'OptOutPage' });
export const optOutRemoved = z.object({ phone: z.string(), optedOut: z.literal(false) }).meta({ id: 'OptOutRemoved' });
export const consentLog = z
  .object({
    phone: z.string(),
    numberBlock: z
      .object({ sender: z.string() })
      .nullable()
      .meta({
        description:
          'The phone texted a STOP in its own words to the number this tenant texts it from (another tenant may share ' +
          'that number): no text goes to it from there until the lead texts START to it, or DELETE /v1/opt-outs/:phone ' +
          'records the consent that allows it',
      }),
    items: z.array(
      z.object({
        kind: z.string(),
        source: z.string(),
        messageSid: z.string().nullable(),
        note: z.string().nullable(),
        createdAt: instant,
      }),
    ),
  })
  .meta({ id: 'ConsentLog' });

export const settings = z
  .looseObject({
    businessName: z.string(),
    defaultRegion: z.string(),
    defaultTimeZone: z.string(),
    windowStart: z.string(),
    windowEnd: z.string(),
    minGapSeconds: z.number().int(),
    maxPerDay: z.number().int(),
    expiryDays: z.number().int(),
    senders: z.array(z.string()),
    alertWebhookSecret: z.string().optional().meta({
      description:
        'Only in the answer of a PATCH that set a new alertWebhookUrl: the Standard Webhooks secret its alerts are signed with',
    }),
  })
  .meta({ id: 'Settings', description: "The tenant's settings; every field PATCH /v1/settings takes" });

export const messageReport = z
  .object({
    since: instant,
    byStatus: z.record(z.string(), z.number().int()),
    byErrorCode: z.record(z.string(), z.number().int()),
    carrierFiltered: z.number().int(),
  })
  .meta({ id: 'MessageReport' });

export const sendingStatus = z
  .looseObject({ killSwitch: z.looseObject({}) })
  .meta({ id: 'SendingStatus', description: 'Capacity in use, messages waiting for it, and the kill switches' });
export const pauses = z
  .object({ global: z.looseObject({}).nullable(), tenants: z.array(z.looseObject({ tenantId: z.string() })) })
  .meta({ id: 'SendingPauses' });

const endpointFields = {
  id,
  url: z.string(),
  events: z.array(z.enum(eventTypes)),
  description: z.string().nullable(),
  status: z.string(),
  failingSince: nullableInstant,
  retryAfter: nullableInstant.meta({
    description: 'Until when the last failure holds back every delivery of the endpoint; null when none waits on one',
  }),
  createdAt: instant,
  updatedAt: instant,
};
export const webhookEndpoint = z.object(endpointFields).meta({ id: 'WebhookEndpoint' });
export const webhookEndpointCreated = z
  .object({ ...endpointFields, secret: z.string().meta({ description: 'Shown once: the signing secret (whsec_…)' }) })
  .meta({ id: 'WebhookEndpointCreated' });
export const webhookEndpointList = z.object({ endpoints: z.array(webhookEndpoint) }).meta({ id: 'WebhookEndpoints' });
export const rotatedSecret = z
  .object({ id, secret: z.string(), previousSecretExpiresAt: instant })
  .meta({ id: 'RotatedSecret' });
export const delivery = z
  .object({
    id,
    eventId: id.nullable(),
    messageId: z.string(),
    type: z.string().optional(),
    status: z.enum(webhookDeliveryStatuses),
    attemptCount: z.number().int(),
    nextAttemptAt: nullableInstant,
    deliveredAt: nullableInstant,
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: instant,
    payload: z.unknown(),
    attempts: z.array(
      z.object({
        at: instant,
        statusCode: z.number().int().nullable(),
        durationMs: z.number().int().nullable(),
        error: z.string().nullable(),
      }),
    ),
  })
  .meta({ id: 'WebhookDelivery' });
export const deliveryList = z.object({ deliveries: z.array(delivery) }).meta({ id: 'WebhookDeliveries' });

export const senders = z
  .object({ defaultSender: z.string(), senders: z.array(z.looseObject({ value: z.string() })) })
  .meta({ id: 'Senders' });
export const senderAssigned = z
  .looseObject({ value: z.string(), tenantId: id, previousTenantId: id.nullable(), changed: z.boolean() })
  .meta({ id: 'SenderAssigned' });
export const senderRemoved = z
  .object({ value: z.string(), tenantId: id, unassigned: z.literal(true) })
  .meta({ id: 'SenderRemoved' });

const check = z.union([z.object({ ok: z.literal(true) }), z.object({ ok: z.literal(false), error: z.string() })]);
export const health = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    down: z.array(z.enum(['temporal', 'database'])).optional(),
    temporal: check,
    database: check,
    sms: z.object({ mode: z.string() }),
  })
  .meta({ id: 'Health' });
