import { getAllTimezones } from 'countries-and-timezones';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { IANAZone } from 'luxon';

/**
 * Normalises user input to E.164 with the tenant's default region for national formats. Acceptance is by the
 * country's possible lengths, not by allocated ranges: the allocation tables lag behind carriers and call
 * Ofcom's drama range (07700 900xxx) and Twilio's magic test numbers invalid; Twilio's own 21211 catches the rest.
 */
export function normalisePhone(input: string, defaultRegion: string): string | null {
  const parsed = parsePhoneNumberFromString(input, defaultRegion as CountryCode);
  return parsed?.isPossible() ? parsed.number : null;
}

/**
 * IANA's zone names, links included (US/Eastern, Asia/Calcutta), by their lower case. ICU, which luxon asks, also takes
 * Java's three-letter IDs and reads the ambiguous ones its own way: BST as Asia/Dhaka, IST as Asia/Kolkata, SST as
 * Pacific/Guadalcanal, AST as America/Anchorage. A lead given British Summer Time would be texted on Bangladesh's clock.
 */
const ianaZones = getAllTimezones({ deprecated: true });
const ianaNames = new Map(Object.keys(ianaZones).map((name) => [name.toLowerCase(), name]));

/** The zone a name stands for (US/Eastern is America/New_York), in any case; the name itself when IANA lacks it. */
export function ianaCanonical(zone: string): string {
  const name = ianaNames.get(zone.toLowerCase()) ?? zone;
  return (ianaZones as Record<string, { aliasOf: string | null } | undefined>)[name]?.aliasOf ?? name;
}

/** Two names of one zone (US/Eastern and America/New_York, any case) are no conflict. */
export const sameZone = (a: string, b: string) => ianaCanonical(a) === ianaCanonical(b);

/**
 * A zone a client gives for a lead already saved in another: the lead is texted in its saved zone (the tenant's for one
 * that is no IANA name), so taking the request would put it on a clock it did not ask for.
 */
export const zoneConflicts = (
  given: string | null | undefined,
  lead: { timeZone: string },
  tenantZone: string,
): boolean => !!given && !sameZone(given, savedZoneOr(lead.timeZone, tenantZone));

/**
 * IANA's names outside any region are its old abbreviations, fixed offsets among them: `EST` is UTC−5 all year, an
 * hour early for New York all summer. Only these two are taken.
 */
const regionless = new Set(['UTC', 'GMT']);

/** A zone a client gave, as IANA spells it (`america/new_york` is America/New_York); null for a name IANA does not
 * have outside a region (`BST`, `EST`, `Japan`) or this build cannot read. */
export function ianaTimeZone(zone: string): string | null {
  const name = ianaNames.get(zone.toLowerCase());
  if (!name || !(name.includes('/') || regionless.has(name))) return null;
  return IANAZone.isValidZone(name) ? name : null;
}

/**
 * A saved zone as IANA spells it, else `fallback`. Leads and appointments saved before the API took IANA names only
 * may hold what ICU alone reads, and reads its own way (`BST` as Bangladesh's clock): such a zone is judged as one this
 * build does not know, in the tenant's, as the send gate judges it, and no message tells a time on it.
 */
export const savedZoneOr = (saved: string, fallback: string): string => ianaTimeZone(saved) ?? fallback;

export const notAnIanaTimeZone =
  'unknown IANA time zone: give a Region/City name such as America/New_York (abbreviations such as BST are ambiguous)';
