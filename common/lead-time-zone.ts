import { getCountry, getTimezone } from 'countries-and-timezones';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { IANAZone } from 'luxon';

/** A new lead's zone when none was given, or, when its number cannot tell, where the number is and the zones there. */
export type ZoneFromNumber = { timeZone: string } | { zoneNeeded: string };

const canonical = (zone: string) => getTimezone(zone)?.aliasOf ?? zone;

/** Two zones keep one clock when their offsets agree in January and in July (standard and summer time). */
function clockOf(zone: string, year: number): string {
  const iana = IANAZone.create(zone);
  return [0, 6].map((month) => iana.offset(Date.UTC(year, month, 15))).join('/');
}

/**
 * The window and caps are judged in the lead's local time, so a lead given no zone is texted in its number's: the
 * tenant's own zone when the number's country has it (the tenant's best knowledge of its own country), else the
 * country's when all of it keeps one clock (a +44 number for a tenant in New York is texted in London's hours). A
 * country of several clocks that does not have the tenant's zone (a US number for a tenant in London) cannot be told:
 * the caller must give the zone. A number whose country is unknown keeps the tenant's zone.
 */
export function zoneFromNumber(e164: string, tenantZone: string, now = new Date()): ZoneFromNumber {
  const parsed = parsePhoneNumberFromString(e164);
  const countries = parsed ? (parsed.country ? [parsed.country] : parsed.getPossibleCountries()) : [];
  const where = parsed?.country ?? `+${parsed?.countryCallingCode ?? ''}`;
  const year = now.getUTCFullYear();
  // The same few answers for a whole batch: worked out once each (about 150 µs, most of it the zones' offsets).
  const key = `${countries.join(',')}|${where}|${tenantZone}|${year}`;
  let answer = answers.get(key);
  if (!answer) answers.set(key, (answer = zoneOfCountries(countries, where, tenantZone, year)));
  return answer;
}

const answers = new Map<string, ZoneFromNumber>();

function zoneOfCountries(countries: string[], where: string, tenantZone: string, year: number): ZoneFromNumber {
  const zones = [
    ...new Set(countries.flatMap((country) => getCountry(country)?.timezones ?? []).map(canonical)),
  ].filter((zone) => IANAZone.isValidZone(zone));
  if (zones.length === 0 || zones.includes(canonical(tenantZone))) return { timeZone: tenantZone };
  const clocks = new Set(zones.map((zone) => clockOf(zone, year)));
  if (clocks.size === 1) return { timeZone: zones[0]! };
  return { zoneNeeded: `the number's country (${where}) spans several time zones: give the lead's timeZone` };
}
