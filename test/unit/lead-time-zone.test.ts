// shared/docs/domain.md: send only 08:00-21:00 in the recipient's local time. A lead given no zone is judged in its
// number's: its area code's zones for a geographic number, else its country's.
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
      'a Los Angeles number, tenant in New York (its area code)',
      '+12135550123',
      'America/New_York',
      'America/Los_Angeles',
    ],
    ['a New York number, tenant in Chicago', '+12125550100', 'America/Chicago', 'America/New_York'],
    ['a New York number, tenant in London', '+12125550100', 'Europe/London', 'America/New_York'],
    ['a Toronto number, tenant in New York (one clock)', '+14165550100', 'America/New_York', 'America/Toronto'],
    ['a South Dakota number, tenant in Denver (one of its zones)', '+16055550100', 'America/Denver', 'America/Denver'],
    [
      'a US number of no area code, tenant in Chicago (the country has it)',
      '+15005550100',
      'America/Chicago',
      'America/Chicago',
    ],
    ['a Moscow fixed line, tenant in London', '+74951234567', 'Europe/London', 'Europe/Moscow'],
    // The number plan's map stands in Paris for Algiers (another summer time): the country's own zone decides.
    ['an Algiers fixed line, tenant in London', '+21321123456', 'Europe/London', 'Africa/Algiers'],
    ['a Managua fixed line, tenant in New York', '+50526879195', 'America/New_York', 'America/Managua'],
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

  it('names the country it was told, whichever number of the calling code came first', () => {
    expect(zoneFromNumber('+61412345678', 'Europe/London', december)).toEqual({
      zoneNeeded: "the number's country (AU) spans several time zones: give the lead's timeZone",
    });
    // Too short for its country to be told: the calling code is named instead.
    expect(zoneFromNumber('+6112345', 'Europe/London', december)).toEqual({
      zoneNeeded: "the number's country (+61) spans several time zones: give the lead's timeZone",
    });
  });

  it('answers a fixed line and a mobile of one country each by its own rule, whichever comes first', () => {
    const kyivLine = '+380455902450';
    const mobile = '+380501234567';
    // Line first, then mobile (a tenant in Simferopol, one of the country's zones).
    expect([kyivLine, mobile].map((phone) => zoneFromNumber(phone, 'Europe/Simferopol', december))).toEqual([
      { timeZone: 'Europe/Kyiv' },
      { timeZone: 'Europe/Simferopol' },
    ]);
    // Mobile first, then line (a tenant in Volgograd, none of them).
    expect([mobile, kyivLine].map((phone) => zoneFromNumber(phone, 'Europe/Volgograd', december))).toEqual([
      { zoneNeeded: "the number's country (UA) spans several time zones: give the lead's timeZone" },
      { timeZone: 'Europe/Kyiv' },
    ]);
  });

  it.each([
    [
      'a South Dakota number (Mountain and Central), tenant in New York',
      '+16055550100',
      'America/New_York',
      'numbers starting +1605 (US) span',
    ],
    ['a US toll-free number, tenant in London', '+18005550100', 'Europe/London', "the number's country (US) spans"],
    [
      'a Spanish mobile (Madrid and the Canaries differ), tenant in London',
      '+34612345678',
      'Europe/London',
      "the number's country (ES) spans",
    ],
    // The number plan maps every Australian and Russian mobile to the capital: a mobile's prefix is not where it is.
    ['an Australian mobile, tenant in London', '+61412345678', 'Europe/London', "the number's country (AU) spans"],
    ['a Russian mobile, tenant in London', '+79161234567', 'Europe/London', "the number's country (RU) spans"],
    [
      'a +1 number of no one country, tenant in London',
      '+15555550100',
      'Europe/London',
      "the number's country (+1) spans",
    ],
  ])('%s: %s needs its zone given', (_case, phone, tenantZone, where) => {
    expect(zoneFromNumber(phone, tenantZone, december)).toEqual({
      zoneNeeded: `${where} several time zones: give the lead's timeZone`,
    });
  });
});
