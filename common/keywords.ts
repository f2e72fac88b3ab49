/**
 * What an inbound SMS asks for, judged on the whole message (shared/docs/domain.md): Twilio's default keyword lists
 * plus the FCC's "reasonable means" phrases. Case, surrounding and repeated spaces, and trailing punctuation don't count.
 */
export type InboundIntent = 'opt_out' | 'opt_in' | 'help' | 'message';

const optOut = new Set(['stop', 'stopall', 'stop all', 'unsubscribe', 'cancel', 'end', 'quit', 'revoke', 'optout', 'opt out', 'opt-out']);
const optIn = new Set(['start', 'unstop', 'yes']);
const help = new Set(['help', 'info']);

function normaliseKeyword(body: string): string {
  return body
    .trim()
    .toLowerCase()
    .replace(/[\s.!?,;:]+$/u, '')
    .replace(/\s+/gu, ' ');
}

export function classifyInbound(body: string): InboundIntent {
  const keyword = normaliseKeyword(body);
  if (optOut.has(keyword)) return 'opt_out';
  if (optIn.has(keyword)) return 'opt_in';
  if (help.has(keyword)) return 'help';
  return 'message';
}
