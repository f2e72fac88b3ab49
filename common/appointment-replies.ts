// Replies to an appointment's confirmation or reminders: "Reply C to confirm or R to reschedule" (shared/docs/domain.md).
import { classifyInbound, withoutSignature } from './keywords.js';

export type AppointmentReplyKind = 'confirmed' | 'reschedule_requested';

export interface AppointmentWords {
  confirmWords: readonly string[];
  rescheduleWords: readonly string[];
}

/**
 * A word or a whole message as it is compared: case, accents, spaces, punctuation and the ways of drawing one emoji
 * (variation selectors, skin tones, joiners) don't matter, so "c.", " Yes! " and "👍🏽" are "c", "yes" and "👍".
 */
export function replyWordKey(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\p{M}\p{P}\p{Z}\p{Cc}\p{Cf}\s\u{1F3FB}-\u{1F3FF}]/gu, '');
}

/**
 * What a message, taken as a whole (its phone's signature aside), answers; null when it is not exactly one of the words
 * (a person reads it).
 */
export function matchAppointmentReply(body: string, words: AppointmentWords): AppointmentReplyKind | null {
  const key = replyWordKey(withoutSignature(body));
  if (!key) return null;
  const has = (list: readonly string[]) => list.some((word) => replyWordKey(word) === key);
  if (has(words.confirmWords)) return 'confirmed';
  return has(words.rescheduleWords) ? 'reschedule_requested' : null;
}

/** Carriers and Twilio treat these as opt-outs ("CANCEL" included), and opt-outs always win: never an appointment word. */
export function isOptOutWord(word: string): boolean {
  return classifyInbound(word) === 'opt_out';
}
