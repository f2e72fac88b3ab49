import { DateTime } from 'luxon';

/** Values a message template may use, e.g. "Hi {{firstName}}, this is {{businessName}}". */
export const templatePlaceholders = ['firstName', 'lastName', 'businessName', 'bookingLink'] as const;
export type TemplatePlaceholder = (typeof templatePlaceholders)[number];
export type TemplateValues = Record<TemplatePlaceholder, string | null | undefined>;

/** Placeholders whose value is a URL, tracked as a short link when the message is sent (docs/links.md). */
const linkValuePlaceholders = new Set<string>(['bookingLink']);

/** `{{name}}`, or `{{link:https://…}}`: a fixed URL the message links to, tracked like {{bookingLink}}. */
const placeholderPattern = /\{\{\s*(?:link:\s*([^{}]*?)|([A-Za-z]+))\s*\}\}/g;

/**
 * Every `{{…}}` of a template, with any braces around it: one that is no placeholder (`{{first_name}}`) would reach the
 * lead as written, and `{{{firstName}}}` as "{Ada}".
 */
const bracedPattern = /\{*\{\{([^{}]*)\}\}\}*/g;
const wholePlaceholder = new RegExp(`^${placeholderPattern.source}$`);

function placeholdersNotIn(template: string, names: readonly string[]): string[] {
  const known = new Set<string>(names);
  return [...template.matchAll(bracedPattern)].flatMap(([braced, inside = '']) => {
    const placeholder = wholePlaceholder.exec(braced);
    if (!placeholder && braced.length > inside.length + 4) return [braced.slice(2, -2)];
    // A link's URL is checked on its own (invalidLinkPlaceholders).
    if (placeholder?.[1] !== undefined) return [];
    const name = placeholder?.[2] ?? inside.trim();
    return known.has(name) ? [] : [name];
  });
}

/**
 * Braces of a placeholder half-written, once every whole `{{…}}` is taken out: "Hi {{firstName}, thanks" and
 * "Hi {firstName}" would reach the lead as written.
 */
function strayBraces(template: string, names: readonly string[]): string[] {
  const rest = template.replace(bracedPattern, ' ');
  // Only what reads as a placeholder: "{{firstName", "{{link:…", "firstName}}"; JSON's "}}" or a smiley's are text.
  const doubled = [...rest.matchAll(/\{\{\s*(?:link:[^{}\s]*|[A-Za-z]+)?\s*\}?|\{?\s*([A-Za-z]+)\s*\}\}/g)]
    .filter(([text, closing]) => closing === undefined || names.includes(closing) || text.startsWith('{'))
    .map(([text]) => text.trim());
  const single = [...rest.replace(/\{\{|\}\}/g, ' ').matchAll(/\{\s*([A-Za-z]+)\s*\}/g)]
    .filter(([, name = '']) => names.includes(name))
    .map(([text]) => text);
  return [...doubled, ...single];
}

/** What a template's placeholders get wrong: names not known, and braces that make no placeholder. */
export function placeholderMistakes(template: string, names: readonly string[]): string | undefined {
  const unknown = placeholdersNotIn(template, names).map((name) => `{{${name}}}`);
  const stray = strayBraces(template, names);
  const mistakes = [
    ...(unknown.length ? [`unknown placeholder ${unknown.join(', ')}; known: ${names.join(', ')}`] : []),
    ...(stray.length ? [`${stray.join(', ')}: a placeholder is written {{name}}, with two braces on each side`] : []),
  ];
  return mistakes.length ? mistakes.join('; ') : undefined;
}

/**
 * An absolute http(s) URL as written: "https:example.com" parses on its own, but a phone reading it, or a redirect
 * sending it, takes it as a path on the current host.
 */
export const isHttpUrl = (text: string): boolean => /^https?:\/\/[^\s]+$/i.test(text) && URL.canParse(text);

/** `{{link:…}}` placeholders that are not a plain http(s) URL (spaces, braces or another placeholder inside, …). */
export function invalidLinkPlaceholders(template: string): string[] {
  return [...template.matchAll(/\{\{\s*link:[^}]*\}*/g)]
    .map((match) => match[0])
    .filter((text) => {
      const url = /^\{\{\s*link:\s*([^{}]*?)\s*\}\}$/.exec(text)?.[1];
      return url === undefined || !isHttpUrl(url);
    });
}

/**
 * Control characters other than tab and line breaks: no phone shows them, and JSON writes most of them as six bytes,
 * so 1,600 of them in each of 50 steps' 4 variants made a sequence whose enrollments Temporal refused (its 2 MB input
 * limit). DEL and the C1 controls go with them: as invisible in a text.
 */
export const hasControlCharacters = (template: string): boolean => /(?![\t\n\r])\p{Cc}/u.test(template);
export const controlCharactersMessage = 'must not contain control characters (other than tabs and line breaks)';

export const invalidLinkMessage = (invalid: string[]) =>
  `${invalid.join(', ')}: a link placeholder is {{link:https://…}} with an http or https URL (no spaces, braces or placeholders inside)`;

/** Whether a template uses the placeholder (written `{{ bookingLink }}` too). */
export const usesPlaceholder = (template: string, name: TemplatePlaceholder): boolean =>
  [...template.matchAll(placeholderPattern)].some((match) => match[2] === name);

/** Appointment messages know two more: {{time}}, the start in the lead's zone, and {{location}}. */
export const appointmentTemplatePlaceholders = [...templatePlaceholders, 'time', 'location'] as const;
export type AppointmentTemplatePlaceholder = (typeof appointmentTemplatePlaceholders)[number];

/** The longest body Twilio sends (its error 21617 beyond): a longer one is not sent at all. */
export const longestBody = 1600;

/**
 * The longest each value may be when filled in: the API's limits on names, `businessName` and `bookingUrl`, and
 * {{time}} as formatAppointmentTime writes it. A tracked link's short link is counted as 100 characters at most.
 */
const longestValues: Record<string, number> = {
  firstName: 100,
  lastName: 100,
  businessName: 100,
  bookingLink: 500,
  time: 25,
  location: 200,
};
const longestShortLink = 100;

/** How long a template can get once filled in: every value at its longest, a link as written or as its short link. */
export const longestFilledIn = (template: string): number =>
  template.replace(placeholderPattern, (_whole, url: string | undefined, name: string) =>
    'x'.repeat(url === undefined ? (longestValues[name] ?? 0) : Math.max(url.length, longestShortLink)),
  ).length;

export const tooLongFilledInMessage = (template: string) =>
  `could be ${longestFilledIn(template)} characters once filled in (names and businessName up to 100 each, ` +
  `{{bookingLink}} up to 500, a tracked link up to 100): Twilio sends at most ${longestBody}`;

/** {{time}}: local to the reader, so no zone name; e.g. "Mon 30 Mar at 10:00". */
export function formatAppointmentTime(startsAt: Date, timeZone: string): string {
  return DateTime.fromJSDate(startsAt, { zone: timeZone }).toFormat("ccc d LLL 'at' HH:mm", { locale: 'en-GB' });
}

export type RenderResult = { ok: true; body: string } | { ok: false; missing: string[] };

/**
 * A message with an empty value is not sent half-filled: the caller records it as skipped with the names. `track`
 * gives what a link ({{bookingLink}}, {{link:…}}) becomes in the body: a short link, or the URL itself.
 */
export function renderTemplate<Name extends string = TemplatePlaceholder>(
  template: string,
  values: Record<Name, string | null | undefined>,
  track: (url: string) => string = (url) => url,
): RenderResult {
  const missing = new Set<string>();
  const body = template.replace(placeholderPattern, (_whole, url: string | undefined, name: string) => {
    if (url !== undefined) return track(url);
    const value = values[name as Name]?.trim();
    if (!value) {
      missing.add(name);
      return '';
    }
    return linkValuePlaceholders.has(name) ? track(value) : value;
  });
  return missing.size > 0 ? { ok: false, missing: [...missing] } : { ok: true, body };
}
