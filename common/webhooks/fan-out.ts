// Fan-out: an endpoint's new events become deliveries. Events commit in sequence order per tenant (common/events.ts),
// so once sequence N is visible nothing below it can still appear, and a cursor is enough to know what was taken.
import type { Db } from '../db.js';

/** Events taken per endpoint per transaction: a burst is fanned out in steps that each hold the endpoint's lock briefly. */
const fanOutBatch = 1000;

/** Endpoints (not deleted; failing ones too, so their events wait as pending deliveries) with events past their cursor. */
export async function endpointsBehind(db: Db): Promise<string[]> {
  const rows = await db.$queryRaw<{ id: string }[]>`
    SELECT w.id FROM webhook_endpoints w
    WHERE w.deleted_at IS NULL
      AND EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = w.tenant_id AND e.sequence > w.cursor)`;
  return rows.map((row) => row.id);
}

/**
 * Inserts deliveries for the endpoint's next events (those its `events` filter takes) and moves its cursor past every
 * event looked at, in one transaction that holds the endpoint's row: a second worker skips a locked endpoint instead of
 * waiting. The message ID is derived from the event, and (endpoint, event) is unique: a repeat inserts nothing. A
 * delivery keeps the envelope only: its data is the event's as it is when sent or shown (deliveryPayloads).
 * Returns how many events it moved past (0: none, or another worker holds the endpoint).
 */
export async function fanOutEndpoint(db: Db, endpointId: string): Promise<number> {
  return db.$transaction(async (tx) => {
    const [endpoint] = await tx.$queryRaw<{ tenant_id: string; cursor: bigint; events: string[] }[]>`
      SELECT tenant_id, cursor, events FROM webhook_endpoints
      WHERE id = ${endpointId}::uuid AND deleted_at IS NULL
      FOR UPDATE SKIP LOCKED`;
    if (!endpoint) return 0;
    const [moved] = await tx.$queryRaw<{ taken: bigint; last: bigint | null }[]>`
      WITH batch AS (
        SELECT id, type, sequence, created_at FROM events
        WHERE tenant_id = ${endpoint.tenant_id}::uuid AND sequence > ${endpoint.cursor}
        ORDER BY sequence LIMIT ${fanOutBatch}
      ), inserted AS (
        INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, message_id, payload, status, attempts, next_attempt_at, created_at)
        SELECT gen_random_uuid(), ${endpoint.tenant_id}::uuid, ${endpointId}::uuid, b.id, 'msg_' || b.id,
          jsonb_build_object(
            'type', b.type,
            'timestamp', to_char(b.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
          'pending', 0, now(), now()
        FROM batch b
        WHERE cardinality(${endpoint.events}::text[]) = 0 OR b.type = ANY(${endpoint.events}::text[])
        ORDER BY b.sequence
        ON CONFLICT (endpoint_id, event_id) DO NOTHING
      )
      SELECT count(*) AS taken, max(sequence) AS last FROM batch`;
    if (!moved?.last) return 0;
    await tx.$executeRaw`UPDATE webhook_endpoints SET cursor = ${moved.last} WHERE id = ${endpointId}::uuid`;
    return Number(moved.taken);
  });
}
