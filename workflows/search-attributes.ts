import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** The project's custom search attributes: the dev server registers them at start, workflows set them. */
export const tenantIdKey = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);
export const leadIdKey = defineSearchAttributeKey('LeadId', SearchAttributeType.KEYWORD);
export const sequenceIdKey = defineSearchAttributeKey('SequenceId', SearchAttributeType.KEYWORD);
export const enrollmentStatusKey = defineSearchAttributeKey('EnrollmentStatus', SearchAttributeType.KEYWORD);
export const nextSendAtKey = defineSearchAttributeKey('NextSendAt', SearchAttributeType.DATETIME);
/**
 * What a follow-up's next send waits for (delay, window, cap_gap, cap_daily, pause, capacity): "everything held by the
 * window".
 */
export const waitingForKey = defineSearchAttributeKey('WaitingFor', SearchAttributeType.KEYWORD);

export const appointmentIdKey = defineSearchAttributeKey('AppointmentId', SearchAttributeType.KEYWORD);
export const appointmentStatusKey = defineSearchAttributeKey('AppointmentStatus', SearchAttributeType.KEYWORD);
export const nextReminderAtKey = defineSearchAttributeKey('NextReminderAt', SearchAttributeType.DATETIME);
/** The lead confirmed by SMS (a confirm word): "unconfirmed appointments tomorrow" in the UI. */
export const appointmentConfirmedKey = defineSearchAttributeKey('AppointmentConfirmed', SearchAttributeType.BOOL);

export const searchAttributeKeys = [
  tenantIdKey,
  leadIdKey,
  sequenceIdKey,
  enrollmentStatusKey,
  nextSendAtKey,
  waitingForKey,
  appointmentIdKey,
  appointmentStatusKey,
  nextReminderAtKey,
  appointmentConfirmedKey,
];
