import { describe, expect, it } from 'vitest';
import { classifyInbound } from '../../common/keywords.js';
import {
  harmlessUses,
  helpKeywords,
  notReactions,
  optInKeywords,
  optOutsAroundOurQuote,
  ourText,
  reactionsInOtherLanguages,
  optOutPhrasings,
  reactionsQuotingUs,
  repliesWithKeywords,
  standardOptOutKeywords,
} from '../fixtures/inbound-messages.js';

// Keyword lists: Twilio Advanced Opt-Out defaults (opt-out STOP, STOPALL, UNSUBSCRIBE, END, QUIT, REVOKE, OPTOUT, CANCEL;
// opt-in START, UNSTOP, YES; help HELP, INFO). Phrasings: 47 CFR 64.1200(a)(10), consent revoked "by any reasonable means".
describe('classifyInbound: opt-outs', () => {
  describe("Twilio's standard opt-out keywords, plain and decorated", () => {
    it.each(standardOptOutKeywords)('%j is an opt-out', (body) => {
      expect(classifyInbound(body)).toBe('opt_out');
    });
  });

  describe('47 CFR 64.1200(a)(10): revocation "by any reasonable means"', () => {
    it.each(optOutPhrasings)('%j is an opt-out', (body) => {
      expect(classifyInbound(body)).toBe('opt_out');
    });
  });

  describe('the same letters in an everyday sense', () => {
    it.each(harmlessUses)('%j is a message', (body) => {
      expect(classifyInbound(body)).toBe('message');
    });
  });
});

describe('classifyInbound: a reaction sent as text quotes our message', () => {
  it.each(reactionsQuotingUs)('%j is a message', (body) => {
    expect(classifyInbound(body)).toBe('message');
  });
  it.each(notReactions)('%j is an opt-out', (body) => {
    expect(classifyInbound(body)).toBe('opt_out');
  });
  it.each(reactionsInOtherLanguages)('%j, quoting our latest text, is a message', (body) => {
    expect(classifyInbound(body, { ourTexts: ['Your appointment is at 3pm.', ourText] })).toBe('message');
  });
  it.each(optOutsAroundOurQuote)('%j is an opt-out: the words around our quote are the lead’s', (body) => {
    expect(classifyInbound(body, { ourTexts: [ourText] })).toBe('opt_out');
  });
  it('a quote of a text we never sent is the lead’s words', () => {
    expect(classifyInbound(`Le gustó “${ourText}”`, { ourTexts: ['Another text entirely, long enough.'] })).toBe(
      'opt_out',
    );
    expect(classifyInbound('I said “stop”', { ourTexts: ['Reply STOP to opt out', 'stop'] })).toBe('opt_out');
  });
});

describe('classifyInbound: opt-in and help keywords only as the whole message', () => {
  it.each(optInKeywords)('%j is an opt-in', (body) => {
    expect(classifyInbound(body)).toBe('opt_in');
  });
  it.each(helpKeywords)('%j asks for help', (body) => {
    expect(classifyInbound(body)).toBe('help');
  });
  it.each(repliesWithKeywords)('%j is a message', (body) => {
    expect(classifyInbound(body)).toBe('message');
  });
});

describe("classifyInbound: Twilio's OptOutType (Advanced Opt-Out matched a custom or other-language keyword)", () => {
  it.each([
    { body: 'ARRÊT', twilioOptOutType: 'STOP', intent: 'opt_out' },
    { body: 'ALTO', twilioOptOutType: 'stop', intent: 'opt_out' },
    { body: 'Sí', twilioOptOutType: 'START', intent: 'opt_in' },
    { body: 'AIDE', twilioOptOutType: ' Help ', intent: 'help' },
    { body: 'STOP', twilioOptOutType: 'START', intent: 'opt_in' },
    { body: 'STOP', twilioOptOutType: 'SOMETHING_NEW', intent: 'opt_out' },
    { body: 'hello', twilioOptOutType: '', intent: 'message' },
    { body: 'hello', twilioOptOutType: undefined, intent: 'message' },
    { body: 'ARRÊT', twilioOptOutType: undefined, intent: 'message' },
  ])('$body with OptOutType $twilioOptOutType is $intent', ({ body, twilioOptOutType, intent }) => {
    expect(classifyInbound(body, { twilioOptOutType })).toBe(intent);
  });
});
