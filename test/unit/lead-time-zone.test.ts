// shared/docs/domain.md: send only 08:00-21:00 in the recipient's local time. A lead given no zone is judged in its
// number's.
import { describe, expect, it } from 'vitest';
import { zoneFromNumber } from '../../common/lead-time-zone.js';

const december = new Date('2026-12-06T12:00:00Z');

describe('zoneFromNumber', () => {
  it.each([
    ['a UK mobile, tenant in New York', '+447911123456', 'America/New_York', 'Europe/London'],
    [
      'a number in the UK drama range (country by calling code), tenant on UTC',
      '+447700900123',
      'UTC',
      'Europe/London',
    ],
    [
      'a New York number, tenant in Chicago (the country has the tenant zone)',
      '+12125550100',
      'America/Chicago',
      'America/Chicago',
    ],
    [
      'a German mobile (Berlin and Büsingen keep one clock), tenant in London',
      '+4915112345678',
      'Europe/London',
      'Europe/Berlin',
    ],
    ['a French mobile, tenant in London', '+33612345678', 'Europe/London', 'Europe/Paris'],
    ['a Ukrainian number, tenant zone named by its old alias', '+380501234567', 'Europe/Kiev', 'Europe/Kiev'],
    ['a UK mobile, tenant in London', '+447911123456', 'Europe/London', 'Europe/London'],
  ])('%s: %s is texted in %s → %s', (_case, phone, tenantZone, zone) => {
    expect(zoneFromNumber(phone, tenantZone, december)).toEqual({ timeZone: zone });
  });

  it.each([
    ['a New York number, tenant in London', '+12125550100', 'US'],
    ['a Spanish mobile (Madrid and the Canaries differ), tenant in London', '+34612345678', 'ES'],
    ['a +1 number of no one country, tenant in London', '+15555550100', '+1'],
  ])('%s: %s needs its zone given', (_case, phone, where) => {
    expect(zoneFromNumber(phone, 'Europe/London', december)).toEqual({
      zoneNeeded: `the number's country (${where}) spans several time zones: give the lead's timeZone`,
    });
  });
});
