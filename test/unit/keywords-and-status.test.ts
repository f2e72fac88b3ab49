import { describe, expect, it } from 'vitest';
import { classifyInbound } from '../../common/keywords.js';
import { statusesBelow } from '../../common/message-status.js';

describe('classifyInbound (shared/docs/domain.md: Twilio keyword lists, FCC "reasonable means")', () => {
  it.each([
    'STOP',
    ' Stop ',
    'stop.',
    'Stop all',
    'STOPALL',
    'unsubscribe!',
    'Cancel',
    'END',
    'quit',
    'revoke',
    'OPTOUT',
    'opt out',
    'Opt  Out?',
    'STOP PLEASE',
    'please stop',
  ])('%j is an opt-out', (body) => {
    expect(classifyInbound(body)).toBe('opt_out');
  });
  it.each(['START', 'start.', ' Unstop ', 'yes!'])('%j is an opt-in', (body) => {
    expect(classifyInbound(body)).toBe('opt_in');
  });
  it.each(['HELP', 'help?', ' Info '])('%j asks for help', (body) => {
    expect(classifyInbound(body)).toBe('help');
  });
  it.each(['can you stop by at 3?', 'cancel my appointment', 'yes I can come at 3', 'Is this the dentist?', ''])(
    '%j is an ordinary message',
    (body) => {
      expect(classifyInbound(body)).toBe('message');
    },
  );
});

describe('statusesBelow: statuses only move forward', () => {
  it('lets delivered replace queued, sending and sent, never the other way round', () => {
    expect(statusesBelow('delivered')).toEqual(
      expect.arrayContaining(['pending', 'accepted', 'queued', 'sending', 'sent']),
    );
    expect(statusesBelow('delivered')).not.toContain('failed');
    expect(statusesBelow('sent')).not.toContain('delivered');
    expect(statusesBelow('queued')).not.toContain('sent');
  });
});
