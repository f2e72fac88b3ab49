// Personal data never reaches a committed history: payloads (base64 JSON) are decoded, scrubbed and re-encoded.

const phonePattern = /\+\d{7,15}/g;
const maskedPhonePattern = /\+\d{1,3}\*{3}\d{3}/g;

function scrubText(text: string, names: readonly string[]): string {
  let scrubbed = text.replace(maskedPhonePattern, '+00***000').replace(phonePattern, '+10000000000');
  for (const name of names) scrubbed = scrubbed.split(name).join('Lead');
  return scrubbed;
}

function scrub(value: unknown, names: readonly string[]): unknown {
  if (Array.isArray(value)) return value.map((item) => scrub(item, names));
  if (typeof value === 'string') return scrubText(value, names);
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  const isPayload = typeof record.data === 'string' && typeof record.metadata === 'object' && record.metadata !== null;
  return Object.fromEntries(
    Object.entries(record).map(([key, item]) => {
      if (isPayload && key === 'data')
        return [
          key,
          Buffer.from(scrubText(Buffer.from(item as string, 'base64').toString('utf8'), names)).toString('base64'),
        ];
      return [key, scrub(item, names)];
    }),
  );
}

/** Replaces phone numbers (plain and masked) and the given names everywhere in a history's JSON. */
export function redactHistory(historyJson: string, names: readonly string[]): string {
  return `${JSON.stringify(scrub(JSON.parse(historyJson), names), null, 2)}\n`;
}
