import { describe, expect, it } from 'vitest';
import { classifyAgent } from '../../common/links/clicks.js';
import { linkCodePattern, linkTracker, newLinkCode } from '../../common/links/short-links.js';
import { invalidLinkPlaceholders, renderTemplate } from '../../common/templates.js';

const iPhoneSafari =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';
const androidChrome =
  'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36';

describe('who opened a short link (shared/docs/domain.md: link previews fetch before a person does)', () => {
  it.each([
    ['GET', iPhoneSafari, 'browser'],
    ['GET', androidChrome, 'browser'],
    // iMessage's link preview announces itself as these three together.
    [
      'GET',
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0',
      'bot',
    ],
    ['GET', 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)', 'bot'],
    ['GET', 'WhatsApp/2.23.20.0 A', 'bot'],
    ['GET', 'Twitterbot/1.0', 'bot'],
    ['GET', 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)', 'bot'],
    ['GET', 'TelegramBot (like TwitterBot)', 'bot'],
    [
      'GET',
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)',
      'bot',
    ],
    [
      'GET',
      'Mozilla/5.0 (Linux; Android 11; Pixel 5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/90.0 Mobile Safari/537.36 Google-PageRenderer Google (+https://developers.google.com/+/web/snippet/)',
      'bot',
    ],
    ['GET', 'Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5', 'bot'],
    ['GET', 'Mozilla/5.0 (compatible; proofpoint)', 'bot'],
    ['GET', 'Mozilla/5.0 (compatible; Cloudmark link scanner)', 'bot'],
    ['GET', 'curl/8.5.0', 'bot'],
    ['GET', '', 'no_user_agent'],
    ['GET', undefined, 'no_user_agent'],
    ['HEAD', iPhoneSafari, 'head'],
  ] as const)('%s with %j is %s', (method, userAgent, expected) => {
    expect(classifyAgent(method, userAgent)).toBe(expected);
  });
});

describe('short link codes and tracking', () => {
  it('draws base62 codes of 12 characters, each new', () => {
    const codes = new Set(Array.from({ length: 1000 }, newLinkCode));
    expect(codes.size).toBe(1000);
    for (const code of codes) expect(code).toMatch(linkCodePattern);
  });

  it('turns {{bookingLink}} and {{link:…}} into short links, one per URL, and leaves other text alone', () => {
    const tracker = linkTracker('https://sms.example.com/edge/');
    const rendered = renderTemplate(
      'Hi {{firstName}}: {{bookingLink}} or {{ link: https://example.com/offer?a=1 }} (again {{bookingLink}}), https://plain.example.com',
      { firstName: 'Ada', lastName: null, businessName: 'Acme', bookingLink: 'https://book.example.com/acme' },
      tracker.track,
    );
    const [booking, offer] = tracker.links;
    expect(tracker.links.map(({ position, target }) => [position, target])).toEqual([
      [0, 'https://book.example.com/acme'],
      [1, 'https://example.com/offer?a=1'],
    ]);
    expect(rendered).toEqual({
      ok: true,
      body: `Hi Ada: https://sms.example.com/edge/l/${booking?.code} or https://sms.example.com/edge/l/${offer?.code} (again https://sms.example.com/edge/l/${booking?.code}), https://plain.example.com`,
    });
  });

  it('leaves links as they are without a public URL, and a booking link that is not http(s)', () => {
    const values = { firstName: null, lastName: null, businessName: 'Acme', bookingLink: 'tel:+15005550006' };
    const untracked = linkTracker(undefined);
    expect(renderTemplate('{{link:https://example.com/x}}', values, untracked.track)).toEqual({
      ok: true,
      body: 'https://example.com/x',
    });
    const tracked = linkTracker('https://sms.example.com');
    expect(renderTemplate('Call {{bookingLink}}', values, tracked.track)).toEqual({
      ok: true,
      body: 'Call tel:+15005550006',
    });
    expect([...untracked.links, ...tracked.links]).toEqual([]);
  });

  it('tracks a booking link saved before it was checked ("https:/…") as the absolute URL a browser reads', () => {
    const tracker = linkTracker('https://sms.example.com');
    const values = { firstName: null, lastName: null, businessName: 'Acme', bookingLink: 'https:/book.example.com/x' };
    expect(renderTemplate('Book: {{bookingLink}}', values, tracker.track)).toMatchObject({ ok: true });
    // Before: the target was stored as written, and the redirect's Location landed the lead on our own host.
    expect(tracker.links.map((link) => link.target)).toEqual(['https://book.example.com/x']);
  });

  it.each([
    ['{{link:https://example.com/a}} {{link:http://example.com/b}}', []],
    ['{{link:ftp://example.com/a}}', ['{{link:ftp://example.com/a}}']],
    ['{{link:example.com}}', ['{{link:example.com}}']],
    ['{{link:}}', ['{{link:}}']],
    ['{{link:https://example.com/a b}}', ['{{link:https://example.com/a b}}']],
    ['{{link:https://example.com/?n={{firstName}}}}', ['{{link:https://example.com/?n={{firstName}}}}']],
    ['{{link:https://example.com/a', ['{{link:https://example.com/a']],
    // Parsed on their own they are https://example.com/…; a phone or a redirect takes them as a path on its own host.
    ['{{link:https:example.com/offer}}', ['{{link:https:example.com/offer}}']],
    ['{{link:https:/example.com/offer}}', ['{{link:https:/example.com/offer}}']],
  ])('%s has invalid link placeholders %j', (template, invalid) => {
    expect(invalidLinkPlaceholders(template)).toEqual(invalid);
  });
});
