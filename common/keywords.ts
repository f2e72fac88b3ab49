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

/** Twilio Advanced Opt-Out's OptOutType: its verdict on the tenant's custom and other-language keywords. */
const twilioIntents: Record<string, InboundIntent> = { STOP: 'opt_out', START: 'opt_in', HELP: 'help' };

export function classifyInbound(body: string, options: { twilioOptOutType?: string | undefined } = {}): InboundIntent {
  const twilioIntent = twilioIntents[options.twilioOptOutType ?? ''];
  if (twilioIntent) return twilioIntent;
  const keyword = normaliseKeyword(body);
  if (optOut.has(keyword)) return 'opt_out';
  if (optIn.has(keyword)) return 'opt_in';
  if (help.has(keyword)) return 'help';
  return 'message';
}
