import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Router, type Request } from 'express';
import {
  ApplicationFailure,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { DateTime } from 'luxon';
import { z } from 'zod';
import type { Db } from '../../common/db.js';
import { recordBooking } from '../../common/bookings.js';
import { savedZoneOr } from '../../common/phone.js';
import { controlCharactersMessage, hasControlCharacters } from '../../common/templates.js';
import {
  clearChangeRequested,
  stampChangeRequested,
  underLeadConversationLock,
  writeAcceptedChange,
} from '../../common/appointment-changes.js';
import type { Appointment } from '../../generated/prisma/client.js';
import { AppointmentStatus } from '../../generated/prisma/enums.js';
import {
  cancelledThroughTheApi,
  cancelUpdate,
  rescheduleUpdate,
  statusQuery,
  updateRefusals,
  type AcceptedChange,
  type AppointmentReminderState,
  type Reminder,
} from '../../workflows/appointment-reminder.messages.js';
import { planReminders, startInstant } from '../../workflows/decisions/reminder-schedule.js';
import {
  BookingUnconfirmed,
  nameBasedUuid,
  startAppointmentReminder,
  unrecordedBooking,
} from '../appointment-starter.js';
import { tenantOf } from '../auth.js';
import { ApiError, leadErased, notFound, parseBody, parseQuery } from '../errors.js';
import { readLive } from '../live-read.js';
import { cancelReminders, serviceCancelReasons } from '../lead-erasure.js';
import {
  idempotencyKeyOf,
  idParam,
  liveReadQuery,
  orderedBefore,
  pageAnswer,
  timeZoneField,
  uuidField,
  workflowListQuery,
  workflowListWhere,
} from '../params.js';
import { asTemporalUnavailable } from '../temporal-errors.js';
import { cancelWithoutRun } from '../appointment-without-run.js';

export interface AppointmentsDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  temporalUiUrl: string;
}

const day = 86_400;
const startTime = z.iso.datetime({
  local: true,
  offset: true,
  error: 'must be an ISO 8601 date-time, local (in timeZone) or with an offset',
});
export const createSchema = z.strictObject({
  leadId: uuidField.optional(),
  /** Booked from this follow-up: it ends as `booked`, and booking from it again answers the same appointment. */
  enrollmentId: uuidField.optional(),
  startsAt: startTime,
  /** Defaults to the lead's zone. */
  timeZone: timeZoneField.optional(),
  durationMinutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .default(30),
  location: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .refine((text) => !hasControlCharacters(text), controlCharactersMessage)
    .optional(),
  notes: z.string().trim().min(1).max(2000).optional(),
  reminderOffsetsSeconds: z
    .array(
      z
        .number()
        .int()
        .min(1, 'an offset must be at least 1 second')
        .max(30 * day, 'an offset must be at most 30 days'),
    )
    .max(5, 'at most 5 reminders')
    .refine((offsets) => new Set(offsets).size === offsets.length, 'offsets must not repeat')
    .default([day, 3600]),
});
export const rescheduleSchema = z.strictObject({ startsAt: startTime });
export const cancelSchema = z.strictObject({
  reason: z
    .string()
    .trim()
    .min(1)
    .max(500)
    // The service's own words mark its cancellations: an erasure's, say, which a later record of the run leaves be.
    .refine((reason) => !serviceCancelReasons.includes(reason), 'reserved for the service’s own cancellations')
    .optional(),
});
export const listSchema = workflowListQuery(AppointmentStatus);
/** Updates wait for the workflow to act; a worker that does not answer in this long gets the caller a 503. */
const updateDeadlineMs = 15_000;

/** Farther apart than the API's and the workers' clocks may be. */
const clocksApartMs = 60_000;

/** Reminders run as timers of a workflow that lives until the start: a year is as far as booking goes. */
const maxLeadTimeMs = 366 * day * 1000;

const invalid = (field: string, message: string) =>
  new ApiError(422, 'validation_failed', 'The request body is invalid', { fields: { [field]: [message] } });

/** The instant a start time names, or a 422 saying why it cannot be one (whether it is past is for the caller). */
function startFrom(value: string, timeZone: string): Date {
  const startsAt = startInstant(value, timeZone);
  if (!startsAt) throw invalid('startsAt', `does not exist in ${timeZone} (skipped by a daylight-saving change)`);
  if (startsAt.getTime() > Date.now() + maxLeadTimeMs) throw invalid('startsAt', 'is more than a year ahead');
  return startsAt;
}

/**
 * Under one Idempotency-Key, another booking is a reuse of the key; from one follow-up, a second booking while the
 * first is being made is told to retry, and then hears the first (a repeat from a follow-up answers its booking).
 */
function anotherBooking(appointmentId: string, fromEnrollment: boolean): ApiError {
  return fromEnrollment
    ? new ApiError(409, 'conflict', 'Another booking from this enrollment is being made; retry for its answer', {
        appointmentId,
      })
    : new ApiError(409, 'idempotency_key_reused', 'This Idempotency-Key was used for another booking', {
        appointmentId,
      });
}

/**
 * Temporal fell silent around the start, or answered the start and then failed the read after it: the run may be there
 * (its own start records the booking), whatever the error said, since the client retries a call that may have gone
 * through. A repeat under the same key, or from the same follow-up, answers it; a booking with neither must be read,
 * not sent again, or it books twice: live, as its row appears only once the run records it.
 */
function mayHaveBooked(appointmentId: string, repeatable: boolean, cause: unknown): ApiError {
  const next = repeatable
    ? 'retry with the same Idempotency-Key (or from the same follow-up) for its answer'
    : `read GET /v1/appointments/${appointmentId}?live=true before booking again: it answers 404 only when ` +
      'Temporal has no run for it; read it a minute after this answer, as a start that timed out can still land ' +
      '(an Idempotency-Key makes a retry safe)';
  return new ApiError(
    503,
    'temporal_unavailable',
    `Temporal did not answer; the appointment may have been booked: ${next}`,
    { appointmentId },
    { cause },
  );
}

/**
 * Whether a repeat under the same Idempotency-Key asks for the booking it names: the same lead and the details a
 * booking keeps (its start may have been moved since, so the start is not compared).
 */
function isSameBooking(earlier: Appointment, leadId: string, body: z.infer<typeof createSchema>): boolean {
  return (
    earlier.leadId === leadId &&
    earlier.durationMinutes === body.durationMinutes &&
    earlier.location === (body.location ?? null) &&
    earlier.notes === (body.notes ?? null) &&
    earlier.reminderOffsetsSeconds.join() === body.reminderOffsetsSeconds.join()
  );
}

/**
 * What the row takes of a reschedule's answer: the start the workflow is moving to, not the one this request asked for
 * (a concurrent move may have come after it), and only while the row still shows the start the workflow held when it
 * answered, so an answer that lost the race to a newer write changes nothing. A move the workflow has applied needs no
 * write: its run records the row before it sends again (and, answering in time, before the update answers). A worker of
 * the release before says nothing of where it is going: the request's start is written as before, over the one it held.
 */
export function moveWritten(live: AppointmentReminderState, requested: string, at = new Date()): AcceptedChange | null {
  const target = live.movingTo === undefined ? requested : live.movingTo;
  if (live.status !== 'scheduled' || target === null || Date.parse(target) === Date.parse(live.startsAt)) return null;
  return { kind: 'move', from: live.startsAt, to: target, at: at.toISOString() };
}

export function appointmentsRouter(deps: AppointmentsDeps): Router {
  const { db, temporal, taskQueue, temporalUiUrl } = deps;
  const router = Router();
  const view = (appointment: Appointment) => ({
    id: appointment.id,
    leadId: appointment.leadId,
    enrollmentId: appointment.enrollmentId,
    status: appointment.status,
    closedReason: appointment.closedReason,
    startsAt: appointment.startsAt.toISOString(),
    startsAtLocal: DateTime.fromJSDate(appointment.startsAt, { zone: appointment.timeZone }).toISO(),
    timeZone: appointment.timeZone,
    durationMinutes: appointment.durationMinutes,
    location: appointment.location,
    notes: appointment.notes,
    reminderOffsetsSeconds: appointment.reminderOffsetsSeconds,
    reminders: appointment.reminders as unknown as Reminder[],
    nextReminderAt: appointment.nextReminderAt?.toISOString() ?? null,
    // The lead's SMS answers (a confirm or reschedule word): the first confirmation, the latest request to move.
    confirmedAt: appointment.confirmedAt?.toISOString() ?? null,
    rescheduleRequestedAt: appointment.rescheduleRequestedAt?.toISOString() ?? null,
    workflowId: appointment.workflowId,
    runId: appointment.runId,
    temporalUiUrl: `${temporalUiUrl}/namespaces/${encodeURIComponent(temporal.options.namespace)}/workflows/${encodeURIComponent(appointment.workflowId)}/history`,
    createdAt: appointment.createdAt.toISOString(),
    closedAt: appointment.closedAt?.toISOString() ?? null,
  });
  const findAppointment = async (req: Request) => {
    const appointment = await db.appointment.findFirst({
      where: { id: idParam(req.params.appointmentId, 'Appointment'), tenantId: tenantOf(req) },
    });
    if (!appointment) throw notFound('Appointment');
    return appointment;
  };
  // The workflow ID alone: an appointment's ID is never reused, and a run held for long continues as a new run of it.
  const handleOf = (appointment: Appointment): WorkflowHandle => temporal.workflow.getHandle(appointment.workflowId);

  /**
   * Reschedule and cancel are updates the workflow validates; a refusal changes nothing. Once the workflow accepted
   * one, the row says so at once (under the conversation's lock), so the send gate refuses a message for the old start,
   * or a reminder of a cancelled appointment, even one a Twilio retry holds up before the workflow can record the change.
   * The run writes it from its update handler before it answers; for a run from before that patch this writes it from
   * the answer (`accepted` of it; null: nothing to write). The answer shows the result.
   */
  async function change(
    log: Logger,
    appointment: Appointment,
    update: (handle: WorkflowHandle) => Promise<AppointmentReminderState>,
    accepted: (live: AppointmentReminderState) => AcceptedChange | null,
    /** What the change records when no run is there to take it; null: nothing it can record. */
    withoutRun: () => Promise<Appointment | null> = async () => null,
  ) {
    // Before the workflow is asked: from its answer to the write below, the row would show a start it has let go of.
    const stamp = await underLeadConversationLock(db, appointment, (tx) => stampChangeRequested(tx, appointment.id));
    try {
      const live = await temporal.connection.withDeadline(Date.now() + updateDeadlineMs, () =>
        update(handleOf(appointment)),
      );
      // A run that wrote its change itself is not written over from this answer, which a later change may have passed.
      const write = live.writesAcceptedChanges ? null : accepted(live);
      await underLeadConversationLock(db, appointment, async (tx) => {
        if (write) await writeAcceptedChange(tx, appointment, write);
        if (stamp) await clearChangeRequested(tx, appointment.id, stamp);
      });
      return { ...view(await db.appointment.findUniqueOrThrow({ where: { id: appointment.id } })), live };
    } catch (error) {
      // A change refused, or with no run to take it, gives its stamp back (another request's stays counted); one left
      // unanswered may have been accepted, so its stamp stays until it expires (messages wait up to 20 s more).
      if (stamp && (error instanceof WorkflowUpdateFailedError || error instanceof WorkflowNotFoundError))
        // Not in the way of the refusal's answer: a stamp not given back expires on its own.
        await underLeadConversationLock(db, appointment, (tx) => clearChangeRequested(tx, appointment.id, stamp)).catch(
          (clearing: unknown) => log.warn({ err: clearing }, 'a refused change kept its stamp: it expires in 20 s'),
        );
      if (error instanceof WorkflowUpdateFailedError) {
        const refusal = error.cause instanceof ApplicationFailure ? error.cause : null;
        if (refusal?.type === updateRefusals.invalidStart) throw invalid('startsAt', refusal.message);
        throw new ApiError(409, 'conflict', refusal?.message ?? error.message);
      }
      if (error instanceof WorkflowNotFoundError) {
        const recorded = await withoutRun();
        if (recorded) return { ...view(recorded), live: null };
        const current = await db.appointment.findUniqueOrThrow({ where: { id: appointment.id } });
        throw new ApiError(
          409,
          'conflict',
          current.status === 'scheduled'
            ? 'The appointment’s reminder run has ended (an operator stopped it): it can only be cancelled'
            : `The appointment is ${current.status}: its reminder run has ended`,
          { status: current.status },
        );
      }
      throw asTemporalUnavailable(error) ?? error;
    }
  }

  router.post('/appointments', async (req, res) => {
    const tenantId = tenantOf(req);
    const idempotencyKey = idempotencyKeyOf(req);
    const body = parseBody(createSchema, req.body);
    const enrollment = body.enrollmentId
      ? await db.enrollment.findFirst({ where: { id: body.enrollmentId, tenantId } })
      : null;
    if (body.enrollmentId && !enrollment) throw invalid('enrollmentId', 'unknown enrollment');
    if (enrollment && body.leadId && body.leadId !== enrollment.leadId)
      throw invalid('leadId', 'is not the lead of that enrollment');
    const leadId = enrollment?.leadId ?? body.leadId;
    const lead = leadId
      ? await db.lead.findFirst({ where: { id: leadId, tenantId }, include: { tenant: true } })
      : null;
    if (!lead) throw invalid('leadId', leadId ? 'unknown lead' : 'give leadId or enrollmentId');
    if (lead.status === 'erased') throw leadErased();

    // Booking again from the same follow-up, or with the same Idempotency-Key, names the same appointment.
    const id = enrollment
      ? nameBasedUuid(`${tenantId}:enrollment:${enrollment.id}`)
      : idempotencyKey
        ? nameBasedUuid(`${tenantId}:key:${idempotencyKey}`)
        : randomUUID();
    const earlier = await db.appointment.findFirst({ where: { id, tenantId } });
    if (earlier) {
      if (!enrollment && !isSameBooking(earlier, lead.id, body)) throw anotherBooking(earlier.id, false);
      return void res.status(200).location(`/v1/appointments/${id}`).json(view(earlier));
    }

    const timeZone = body.timeZone ?? savedZoneOr(lead.timeZone, lead.tenant.defaultTimeZone);
    const startsAt = startFrom(body.startsAt, timeZone);
    if (startsAt.getTime() <= Date.now()) throw invalid('startsAt', 'is in the past');
    const appointment = {
      tenantId,
      leadId: lead.id,
      appointmentId: id,
      startsAt: startsAt.toISOString(),
      timeZone,
      durationMinutes: body.durationMinutes,
      location: body.location ?? null,
      notes: body.notes ?? null,
      reminderOffsetsSeconds: body.reminderOffsetsSeconds,
      bookedFrom: enrollment
        ? { enrollmentId: enrollment.id, workflowId: enrollment.workflowId, runId: enrollment.runId }
        : null,
    };
    const { sameBooking, ...started } = await startAppointmentReminder(temporal, taskQueue, appointment).catch(
      (error: unknown) => {
        const mayHaveStarted = error instanceof BookingUnconfirmed || asTemporalUnavailable(error);
        throw mayHaveStarted ? mayHaveBooked(id, Boolean(enrollment ?? idempotencyKey), error) : error;
      },
    );
    // A concurrent request for this appointment ID started its run with other details: the row will be that one's.
    if (!sameBooking) throw anotherBooking(id, enrollment !== null);
    const reminders = planReminders({
      startsAt,
      timeZone,
      offsetsSeconds: body.reminderOffsetsSeconds,
      now: new Date(),
    });
    // Recorded before the answer, follow-ups halted with it: from the 201 on, the send gate refuses their next step.
    // The workflow records the same as it starts, and a concurrent repeat of this request too: the first row stays.
    const recorded = await db.$transaction((tx) => recordBooking(tx, { ...appointment, ...started, reminders }));
    if (!recorded) {
      // Erased while this request was on its way: the run just started has nothing to remind anyone of.
      await cancelReminders(temporal, [started], req.log);
      throw leadErased();
    }
    const row = await db.appointment.findUniqueOrThrow({ where: { id } });
    res.status(201).location(`/v1/appointments/${row.id}`).json(view(row));
  });

  router.get('/appointments', async (req, res) => {
    const { limit, before, ...narrowedBy } = parseQuery(listSchema, req.query);
    const appointments = await db.appointment.findMany({
      where: { ...workflowListWhere(tenantOf(req), narrowedBy), ...orderedBefore('startsAt', before) },
      orderBy: [{ startsAt: 'desc' }, { id: 'desc' }],
      take: limit,
    });
    res.json(pageAnswer(appointments, limit, view, 'startsAt'));
  });

  /**
   * The row answers (its reminders, next reminder, confirmation and status are written as they change); `?live=true`
   * also asks the run, whose state is then `live`, and, when there is no row, whether a run is there to record it.
   */
  router.get('/appointments/:appointmentId', async (req, res) => {
    const { live: askLive } = parseQuery(liveReadQuery, req.query);
    const appointment = await findAppointment(req).catch(async (error: unknown) => {
      if (askLive !== 'true' || !(error instanceof ApiError) || error.status !== 404) throw error;
      throw await unrecordedBooking({ temporal, db }, tenantOf(req), idParam(req.params.appointmentId, 'Appointment'));
    });
    if (askLive !== 'true') return void res.json({ ...view(appointment), live: null });
    const live = await readLive(temporal, handleOf(appointment), statusQuery);
    res.json({ ...view(appointment), ...live });
  });

  /** The tenant's setting, as it is now, decides whether a lead already told the old time is told the new one. */
  router.post('/appointments/:appointmentId/reschedule', async (req, res) => {
    const appointment = await findAppointment(req);
    const body = parseBody(rescheduleSchema, req.body);
    const tenant = await db.tenant.findUniqueOrThrow({ where: { id: appointment.tenantId } });
    // Whether it is past is the workflow's call, its clock the one the timers run on; but a start past by any clock
    // the service runs on is refused before the row is stamped, which would hold the reminders for each retry of it.
    const startsAt = startFrom(body.startsAt, savedZoneOr(appointment.timeZone, tenant.defaultTimeZone));
    if (startsAt.getTime() < Date.now() - clocksApartMs)
      throw invalid('startsAt', 'the new start time must be in the future');
    const move = { startsAt: startsAt.toISOString(), notify: tenant.sendRescheduleNotice };
    res.json(
      await change(
        req.log,
        appointment,
        (handle) => handle.executeUpdate(rescheduleUpdate, { args: [move] }),
        (live) => moveWritten(live, startsAt.toISOString()),
      ),
    );
  });

  /** The tenant's setting, as it is now, decides whether the lead is told. */
  router.post('/appointments/:appointmentId/cancel', async (req, res) => {
    const appointment = await findAppointment(req);
    const body = parseBody(cancelSchema, req.body);
    const tenant = await db.tenant.findUniqueOrThrow({ where: { id: appointment.tenantId } });
    const reason = body.reason ?? null;
    res.json(
      await change(
        req.log,
        appointment,
        (handle) => handle.executeUpdate(cancelUpdate, { args: [{ notify: tenant.sendCancellationNotice, reason }] }),
        () => ({ kind: 'cancel', reason: reason ?? cancelledThroughTheApi, at: new Date().toISOString() }),
        // Its reminders stopped (an opt-out, a failed number) or its run was terminated: the booking system's cancel
        // is still the appointment's, recorded without a notice.
        () => cancelWithoutRun(db, appointment, reason ?? cancelledThroughTheApi),
      ),
    );
  });

  return router;
}
