import { describe, expect, it } from 'vitest';
import { ianaTimeZone, normalisePhone, savedZoneOr } from '../../common/phone.js';
import { placeholderMistakes, renderTemplate, templatePlaceholders } from '../../common/templates.js';

describe('normalisePhone (shared/docs/domain.md: store E.164, default region per tenant)', () => {
  it.each([
    ['07700 900123', 'GB', '+447700900123'],
    ['+44 (0)7700 900123', 'GB', '+447700900123'],
    ['+44 (0)7700 900123', 'US', '+447700900123'],
    ['(415) 555-2671', 'US', '+14155552671'],
    ['+1 500 555 0006', 'GB', '+15005550006'],
  ])('%s in region %s is %s', (input, region, expected) => {
    expect(normalisePhone(input, region)).toBe(expected);
  });

  it.each([['12'], ['not a number'], ['+44 123']])('rejects %s', (input) => {
    expect(normalisePhone(input, 'GB')).toBeNull();
  });

  it.each([
    ['Europe/London', 'Europe/London'],
    ['america/new_york', 'America/New_York'],
    ['BST', 'Europe/London'],
    ['EST', 'Europe/London'],
    ['Mars/Olympus', 'Europe/London'],
  ])('reads a saved zone %s as %s when the tenant is in London', (saved, zone) => {
    expect(savedZoneOr(saved, 'Europe/London')).toBe(zone);
  });

  it.each([
    ['america/new_york', 'America/New_York'],
    ['US/Eastern', 'US/Eastern'],
    ['Asia/Calcutta', 'Asia/Calcutta'],
    ['Etc/GMT-5', 'Etc/GMT-5'],
    ['UTC', 'UTC'],
    ['gmt', 'GMT'],
  ])('takes the IANA name %s as %s', (given, name) => {
    expect(ianaTimeZone(given)).toBe(name);
  });

  // ICU reads each of the first five as a zone: BST as Asia/Dhaka, IST as Asia/Kolkata, SST as Pacific/Guadalcanal.
  // And IANA's own names outside a region: EST is a fixed UTC−5, an hour early for New York all summer.
  it.each([['BST'], ['IST'], ['SST'], ['AET'], ['SystemV/EST5'], ['Mars/Olympus'], ['EST'], ['MST'], ['Japan']])(
    'refuses %s',
    (given) => {
      expect(ianaTimeZone(given)).toBeNull();
    },
  );
});

describe('templates', () => {
  it('renders known placeholders', () => {
    expect(
      renderTemplate('Hi {{firstName}}, {{ businessName }} here', {
        firstName: 'Ada',
        lastName: null,
        businessName: 'Acme',
        bookingLink: null,
      }),
    ).toEqual({ ok: true, body: 'Hi Ada, Acme here' });
  });

  it('refuses to render with an empty value and names it', () => {
    expect(
      renderTemplate('Hi {{firstName}}', { firstName: '  ', lastName: null, businessName: 'Acme', bookingLink: null }),
    ).toEqual({ ok: false, missing: ['firstName'] });
  });

  const mistakesIn = (template: string) => placeholderMistakes(template, templatePlaceholders);

  it('finds unknown placeholders', () => {
    expect(mistakesIn('Hi {{firstName}} {{coupon}} {{ nope }}')).toBe(
      'unknown placeholder {{coupon}}, {{nope}}; known: firstName, lastName, businessName, bookingLink',
    );
  });

  // None of these is a placeholder the renderer fills: each would reach the lead with its braces.
  it('finds what only looks like a placeholder', () => {
    const template = 'Hi {{first_name}} {{ lead.firstName }} {{firstName1}} {{}} {{Link:https://a.co}} {{{firstName}}}';
    expect(mistakesIn(template)).toBe(
      'unknown placeholder {{first_name}}, {{lead.firstName}}, {{firstName1}}, {{}}, {{Link:https://a.co}}, ' +
        '{{{firstName}}}; known: firstName, lastName, businessName, bookingLink',
    );
    expect(mistakesIn('Book {{link: https://a.co/x }} {{bookingLink}}, use code {A1} or {there}')).toBeUndefined();
    // Braces that read as no placeholder are text: JSON, a smiley.
    expect(mistakesIn('Reply {"code":{"id":1}} to confirm :-}} YES}}')).toBeUndefined();
  });

  // Before: these were saved, and the lead got "Hi {{firstName}, thanks" as written.
  it('finds a placeholder written with a brace too few', () => {
    const halfWritten = {
      'Hi {{firstName}, thanks': '{{firstName}',
      'Hi {firstName}}, thanks': '{firstName}}',
      'Hi {{ firstName }, thanks': '{{ firstName }',
      'Book {{link:https://a.co/x today': '{{link:https://a.co/x',
      'Book here {{bookingLink': '{{bookingLink',
      'Hi {firstName}, thanks': '{firstName}',
      'Hi { lastName }': '{ lastName }',
    };
    for (const [template, stray] of Object.entries(halfWritten)) {
      expect(mistakesIn(template)).toBe(`${stray}: a placeholder is written {{name}}, with two braces on each side`);
    }
  });
});
