// What a run's history shows about its versioning: the patch markers it recorded and the search attributes it upserted.
import type { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;

const json = (data: Uint8Array | null | undefined): unknown => JSON.parse(Buffer.from(data ?? []).toString('utf8'));

/** The IDs of the patch markers the run recorded, in order. */
export const patchMarkers = (history: History): string[] =>
  (history.events ?? []).flatMap(({ markerRecordedEventAttributes: marker }) =>
    marker?.markerName === 'core_patch'
      ? [(json(marker.details?.['patch-data']?.payloads?.[0]?.data) as { id: string }).id]
      : [],
  );

/** The search attributes each upsert set, one list of keys per upsert event. */
export const upsertedKeys = (history: History): string[][] =>
  (history.events ?? []).flatMap(({ upsertWorkflowSearchAttributesEventAttributes: upsert }) =>
    upsert ? [Object.keys(upsert.searchAttributes?.indexedFields ?? {})] : [],
  );

/** The activity types the run scheduled (local activities leave markers instead). */
export const scheduledActivities = (history: History): string[] =>
  (history.events ?? []).flatMap(
    ({ activityTaskScheduledEventAttributes: scheduled }) => scheduled?.activityType?.name ?? [],
  );

/** The local activities the run recorded. */
export const localActivities = (history: History): string[] =>
  (history.events ?? []).flatMap(({ markerRecordedEventAttributes: marker }) =>
    marker?.markerName === 'core_local_activity'
      ? [(json(marker.details?.data?.payloads?.[0]?.data) as { activity_type: string }).activity_type]
      : [],
  );
