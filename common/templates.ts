/** Values a message template may use, e.g. "Hi {{firstName}}, this is {{businessName}}". */
export const templatePlaceholders = ['firstName', 'lastName', 'businessName', 'bookingLink'] as const;
export type TemplatePlaceholder = (typeof templatePlaceholders)[number];
export type TemplateValues = Record<TemplatePlaceholder, string | null | undefined>;

const placeholderPattern = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

export function unknownPlaceholders(template: string): string[] {
  const known = new Set<string>(templatePlaceholders);
  return [...template.matchAll(placeholderPattern)].map((match) => match[1] ?? '').filter((name) => !known.has(name));
}

export type RenderResult = { ok: true; body: string } | { ok: false; missing: string[] };

/** A message with an empty value is not sent half-filled: the caller records it as skipped with the names. */
export function renderTemplate(template: string, values: TemplateValues): RenderResult {
  const missing = new Set<string>();
  const body = template.replace(placeholderPattern, (_whole, name: string) => {
    const value = values[name as TemplatePlaceholder]?.trim();
    if (!value) missing.add(name);
    return value ?? '';
  });
  return missing.size > 0 ? { ok: false, missing: [...missing] } : { ok: true, body };
}
