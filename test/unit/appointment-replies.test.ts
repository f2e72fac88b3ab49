import { describe, expect, it } from 'vitest';
import { isOptOutWord, matchAppointmentReply } from '../../common/appointment-replies.js';

// The schema's defaults: "Reply C to confirm or R to reschedule" is the industry convention (shared/docs/domain.md).
const defaults = { confirmWords: ['C', 'CONFIRM', 'Y', 'YES', '👍'], rescheduleWords: ['R', 'RESCHEDULE'] };

describe('matchAppointmentReply: the whole message is one of the words', () => {
  it.each([
    ['C', 'confirmed'],
    ['c', 'confirmed'],
    [' C. ', 'confirmed'],
    ['Confirm!', 'confirmed'],
    ['YES', 'confirmed'],
    ['yes!!', 'confirmed'],
    ['"Y"', 'confirmed'],
    ['👍', 'confirmed'],
    ['👍️', 'confirmed'], // with the emoji variation selector
    ['👍🏽', 'confirmed'], // with a skin tone
    ['Ｃ', 'confirmed'], // full-width
    ['R', 'reschedule_requested'],
    ['r.', 'reschedule_requested'],
    ['Re-schedule', 'reschedule_requested'],
    ['RESCHEDULE\n', 'reschedule_requested'],
    ['C\n\nSent from my iPhone', 'confirmed'],
  ] as const)('%j is %s', (body, kind) => {
    expect(matchAppointmentReply(body, defaults)).toBe(kind);
  });

  it.each([
    'C please',
    'Yes see you then',
    'can I reschedule?',
    'Confirmed for Tuesday',
    'CR',
    '',
    '   ',
    '...',
    '👎',
    'STOP',
    'C\nsee you then',
  ])('%j is for a person to read', (body) => {
    expect(matchAppointmentReply(body, defaults)).toBeNull();
  });

  it("uses the tenant's own words", () => {
    const words = { confirmWords: ['OK', 'Oui'], rescheduleWords: ['Move'] };
    expect(matchAppointmentReply('ok', words)).toBe('confirmed');
    expect(matchAppointmentReply('OUÍ', words)).toBe('confirmed');
    expect(matchAppointmentReply('move!', words)).toBe('reschedule_requested');
    expect(matchAppointmentReply('C', words)).toBeNull();
  });
});

describe('isOptOutWord: never an appointment word (carriers treat them as opt-outs)', () => {
  it.each(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT', 'opt-out', 'Stop!'])(
    '%j is refused',
    (word) => {
      expect(isOptOutWord(word)).toBe(true);
    },
  );
  it.each(['C', 'R', 'YES', 'CONFIRM', 'RESCHEDULE', '👍', 'MOVE'])('%j may be one', (word) => {
    expect(isOptOutWord(word)).toBe(false);
  });
});
