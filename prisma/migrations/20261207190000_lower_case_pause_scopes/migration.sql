-- An operator's pause of a tenant named in capitals was stored as given, and the send gate, which looks pauses up by the
-- tenant's ID as text, never found it: the tenant kept sending. Such a pause is put under the stored ID; where the
-- tenant's pause already stands under it, that one (the one in force) is kept.
DELETE FROM sending_pauses AS upper_case
WHERE upper_case.scope <> lower(upper_case.scope)
  AND EXISTS (SELECT 1 FROM sending_pauses AS stored WHERE stored.scope = lower(upper_case.scope));
UPDATE sending_pauses SET scope = lower(scope) WHERE scope <> lower(scope);
