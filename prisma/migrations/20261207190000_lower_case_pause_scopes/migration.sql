-- An operator's pause of a tenant named in capitals was stored as given, and the send gate, which looks pauses up by the
-- tenant's ID as text, never found it: the tenant kept sending. Each tenant's pauses, whatever their case, become one
-- under the stored ID: the operator's when there is one (it takes over a tenant's own pause, as pauseSending does), else
-- the earliest; a pause in force stays in force.
WITH ranked AS (
  SELECT scope,
    row_number() OVER (
      PARTITION BY lower(scope)
      ORDER BY (paused_by IN ('operator', 'admin-cli')) DESC, paused_at, scope
    ) AS rank
  FROM sending_pauses
  WHERE lower(scope) IN (SELECT lower(scope) FROM sending_pauses WHERE scope <> lower(scope))
)
DELETE FROM sending_pauses WHERE scope IN (SELECT scope FROM ranked WHERE rank > 1);
UPDATE sending_pauses SET scope = lower(scope) WHERE scope <> lower(scope);
