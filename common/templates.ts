import { DateTime } from 'luxon';

/** Values a message template may use, e.g. "Hi {{firstName}}, this is {{businessName}}". */
export const templatePlaceholders = ['firstName', 'lastName', 'businessName', 'bookingLink'] as const;
export type TemplatePlaceholder = (typeof templatePlaceholders)[number];
export type TemplateValues = Record<TemplatePlaceholder, string | null | undefined>;

const placeholderPattern = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

function placeholdersNotIn(template: string, names: readonly string[]): string[] {
  const known = new Set<string>(names);
  return [...template.matchAll(placeholderPattern)].map((match) => match[1] ?? '').filter((name) => !known.has(name));
}

export function unknownPlaceholders(template: string): string[] {
  return placeholdersNotIn(template, templatePlaceholders);
}

/** Appointment messages know two more: {{time}}, the start in the lead's zone, and {{location}}. */
export const appointmentTemplatePlaceholders = [...templatePlaceholders, 'time', 'location'] as const;
export type AppointmentTemplatePlaceholder = (typeof appointmentTemplatePlaceholders)[number];

export function unknownAppointmentPlaceholders(template: string): string[] {
  return placeholdersNotIn(template, appointmentTemplatePlaceholders);
}

/** {{time}}: local to the reader, so no zone name; e.g. "Mon 30 Mar at 10:00". */
export function formatAppointmentTime(startsAt: Date, timeZone: string): string {
  return DateTime.fromJSDate(startsAt, { zone: timeZone }).toFormat("ccc d LLL 'at' HH:mm", { locale: 'en-GB' });
}

export type RenderResult = { ok: true; body: string } | { ok: false; missing: string[] };

/** A message with an empty value is not sent half-filled: the caller records it as skipped with the names. */
export function renderTemplate<Name extends string = TemplatePlaceholder>(
  template: string,
  values: Record<Name, string | null | undefined>,
): RenderResult {
  const missing = new Set<string>();
  const body = template.replace(placeholderPattern, (_whole, name: string) => {
    const value = values[name as Name]?.trim();
    if (!value) missing.add(name);
    return value ?? '';
  });
  return missing.size > 0 ? { ok: false, missing: [...missing] } : { ok: true, body };
}
