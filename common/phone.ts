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
