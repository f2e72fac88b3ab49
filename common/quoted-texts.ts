// A reaction a phone sends by SMS to a number outside iMessage or RCS quotes the text reacted to after a verb in the
// phone's language ('Liked “…”', 'Le gustó “…”', 'A aimé « … »', 'Gefällt „…“'), and a lead may paste one of our texts
// back. Those words are ours, whatever they say ("Reply STOP to opt out"): what the lead asks for is what they wrote
// around them.

// Double quotes only: single ones are apostrophes as often ("don’t").
const openingQuotes = new Set(['"', '“', '„', '«', '「']);
const closingQuotes = new Set(['"', '”', '“', '»', '」']);
/** Shorter quotes ("stop", "yes") are the lead's own words as often as ours. */
const shortestQuoteOfOurs = 12;

/** Spaces, case and compatibility forms folded ("…" reads as "..."), as a phone may have reflowed our text. */
const folded = (text: string) => text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();

/** The outermost quoted span: from the first opening quote to the last closing one (our texts may hold quotes). */
function outermostQuote(body: string): { from: number; to: number } | null {
  const chars = [...body];
  const from = chars.findIndex((char) => openingQuotes.has(char));
  const to = chars.findLastIndex((char, index) => index > from && closingQuotes.has(char));
  return from < 0 || to < 0 ? null : { from, to };
}

/** Whether the body quotes anything: only then is it worth reading the texts it may quote. */
export const hasQuote = (body: string): boolean => outermostQuote(body) !== null;

/**
 * The body without its quote of one of `ours` (the whole text, or its start cut short with an ellipsis); the body as
 * it is when it quotes nothing of ours.
 */
export function withoutQuoteOfOurs(body: string, ours: readonly string[]): string {
  const span = outermostQuote(body);
  if (!span) return body;
  const chars = [...body];
  const quoted = folded(chars.slice(span.from + 1, span.to).join(''));
  const cut = quoted.endsWith('...');
  const start = cut ? quoted.slice(0, -3).trimEnd() : quoted;
  if (start.length < shortestQuoteOfOurs) return body;
  const isOurs = ours.some((text) => {
    const ourText = folded(text);
    return ourText === start || (cut && ourText.startsWith(start));
  });
  // A line break where the quote was: the words before it and after it stay apart, as the quote marks kept them.
  return isOurs ? [...chars.slice(0, span.from), '\n', ...chars.slice(span.to + 1)].join('') : body;
}
