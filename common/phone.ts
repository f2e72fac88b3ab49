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

export const isKnownTimeZone = (zone: string) => IANAZone.isValidZone(zone);

/**
 * IANA's zone names, links included (US/Eastern, Asia/Calcutta), by their lower case. ICU, which luxon asks, also takes
 * Java's three-letter IDs and reads the ambiguous ones its own way: BST as Asia/Dhaka, IST as Asia/Kolkata, SST as
 * Pacific/Guadalcanal, AST as America/Anchorage. A lead given British Summer Time would be texted on Bangladesh's clock.
 */
const ianaNames = new Map(Object.keys(getAllTimezones({ deprecated: true })).map((name) => [name.toLowerCase(), name]));

/** A zone a client gave, as IANA spells it (`america/new_york` is America/New_York); null for a name IANA does not
 * have or this build cannot read. */
export function ianaTimeZone(zone: string): string | null {
  const name = ianaNames.get(zone.toLowerCase());
  return name && IANAZone.isValidZone(name) ? name : null;
}

export const notAnIanaTimeZone =
  'unknown IANA time zone: give a Region/City name such as America/New_York (abbreviations such as BST are ambiguous)';
