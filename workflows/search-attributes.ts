import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** The project's custom search attributes: the dev server registers them at start, workflows set them. */
export const tenantIdKey = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);
export const leadIdKey = defineSearchAttributeKey('LeadId', SearchAttributeType.KEYWORD);
export const sequenceIdKey = defineSearchAttributeKey('SequenceId', SearchAttributeType.KEYWORD);
export const enrollmentStatusKey = defineSearchAttributeKey('EnrollmentStatus', SearchAttributeType.KEYWORD);
export const nextSendAtKey = defineSearchAttributeKey('NextSendAt', SearchAttributeType.DATETIME);

export const searchAttributeKeys = [tenantIdKey, leadIdKey, sequenceIdKey, enrollmentStatusKey, nextSendAtKey];
