import { correctingVerbs, everydayAfterStop, everydayBeforeStop } from './everyday-stops.js';
import { withoutQuoteOfOurs } from './quoted-texts.js';

/**
 * What an inbound SMS asks for, judged on the whole message as people write it (shared/docs/domain.md).
 *
 * Twilio only acts on a message that is exactly one keyword; the FCC (47 CFR 64.1200(a)(10)) lets consent be revoked
 * "by any reasonable means", so we also honour a keyword wrapped in courtesy and the common phrasings. The rules:
 * 1. Twilio's `OptOutType` (STOP, START, HELP, any case), when present and recognised, decides: Twilio Advanced
 *    Opt-Out matched a custom or other-language keyword ("ARRÊT") that these lists don't know.
 * 2. The text is normalised: compatibility forms (NFKC), case and accents folded, apostrophes dropped ("don’t" =
 *    "dont"), and split into clauses at punctuation, quotes, emoji and line breaks ("STOP. Wrong number", "STOP 🛑").
 * 3. Opt-in (START, UNSTOP, YES) and help (HELP, INFO) only when that is the whole message: "yes I'm interested" and
 *    "can you help me?" are replies to the sequence.
 * 4. Opt-out when ("courtesy" below is courtesy words and phrases, "kindly", "thank you", and "and" joining them to
 *    each other or to keywords: "STOP and remove", "stop please and thank you")
 *    - a clause is STOP, STOPALL, UNSUBSCRIBE, UNSUB, OPTOUT or REVOKE wrapped only in courtesy, what it's aimed at or
 *      a softening question ("Please stop", "kindly stop", "stop it now", "can you stop?", "Not interested. Stop");
 *    - the whole message is END, QUIT, REMOVE, CEASE or DESIST wrapped the same way but without the question ("quit
 *      it", "end please", "cease and desist"): these are everyday words, so a clause of a longer message ("what time
 *      do you end?") is not enough;
 *    - the whole message is CANCEL with courtesy or ALL only ("Cancel", "cancel please", "CANCEL ALL"): Twilio blocks a
 *      lone CANCEL, so we must agree, but "cancel it" or "cancel my appointment" is about the appointment and is a reply;
 *    - a clause opens with one of those clear keywords and goes on, unless what follows makes it an everyday STOP ("stop
 *      by at 3", "stop worrying", "stop it with the jokes"): people rarely punctuate, so "Stop I'm not interested",
 *      "STOP I SOLD IT" and "stop lol" are the keyword and a reason;
 *    - a clause ends with one, unless the word before it makes it a noun or it is a question or a denial ("the bus
 *      stop", "when will it stop", "I'm not ready to stop"): "This is harassment stop", "not interested stop";
 *    - a clause says it in a phrase (`optOutPhrases`): "stop texting me", "I told you to stop", "stop it with the texts", "remove me from your
 *      list", "wrong number", or CANCEL aimed at the messages themselves ("cancel all messages", "cancel the texts",
 *      "cancel reminders").
 * 5. A reaction sent as text ('Liked “… Reply STOP to opt out.”') is a reply: the words it quotes are our message's.
 *    In another language ('Le gustó “…”'), or our text pasted back in quotes, only the words around a quote of one of
 *    our latest texts to the phone count (common/quoted-texts.ts).
 * Because a keyword must stand alone or inside a phrase, harmless uses ("stop by at 3", "the bus stop", "non-stop",
 * "when does the offer end", "cancel and reschedule") never match; the phrases carry guards only where they could
 * overreach ("don't stop texting me", "don't cancel my reminders", "cancel the reminders for tomorrow", "I gave you the
 * wrong number"). A "no" or a swear word only makes a request firmer ("No stop", "stop fucking texting me"), and so
 * does an insisting adverb inside a phrase ("stop constantly texting me"). Typos ("stpo") and other languages are not recognised
 * here (other languages arrive as `OptOutType`); "not interested" alone is a reply, not an opt-out.
 */
export type InboundIntent = 'opt_out' | 'opt_in' | 'help' | 'message';

export interface ClassifyOptions {
  twilioOptOutType?: string | undefined;
  /** Our latest texts to the phone: a quote of one of them (a reaction in any language) is not the lead's words. */
  ourTexts?: readonly string[];
}

const twilioOptOutTypes = new Map<string, InboundIntent>([
  ['STOP', 'opt_out'],
  ['START', 'opt_in'],
  ['HELP', 'help'],
]);

/**
 * Twilio Advanced Opt-Out's default keywords (shared/docs/domain.md), which it answers itself, and only as the whole
 * message: "please stop texting me" it neither answers nor blocks.
 */
const twilioKeywords = new Set(
  ['STOP', 'UNSUBSCRIBE', 'END', 'QUIT', 'STOPALL', 'REVOKE', 'OPTOUT', 'CANCEL']
    .concat(['START', 'YES', 'UNSTOP'])
    .concat(['HELP', 'INFO']),
);

/** Whether Twilio, with Advanced Opt-Out, answered the message itself: it names a keyword of the tenant's, or is one. */
export const twilioAnswersItself = (body: string, twilioOptOutType: string | undefined) =>
  Boolean(twilioOptOutType?.trim()) || twilioKeywords.has(body.trim().toUpperCase());

const optInKeywords = new Set(['start', 'unstop', 'yes']);
const helpKeywords = new Set(['help', 'info']);

// No everyday meaning in a text to a business, so they count anywhere in a clause ("STOP. Who is this?").
const clearOptOutKeywords = new Set(['stop', 'stopall', 'unsubscribe', 'unsub', 'optout', 'revoke']);
// Everyday words ("quit smoking", "the offer ends"): they count only as the whole message.
const everydayOptOutKeywords = new Set([...clearOptOutKeywords, 'end', 'quit', 'remove', 'cease', 'desist']);
// CANCEL is a carrier keyword but also how people cancel appointments: see rule 4 above.
const cancelKeywords = new Set([...everydayOptOutKeywords, 'cancel']);

// Courtesy around a request doesn't change what it asks: "STOP please", "ok stop now thanks".
const courtesyWords = [
  'please',
  'pls',
  'plz',
  'now',
  'asap',
  'immediately',
  'thanks',
  'thx',
  'ty',
  'ok',
  'okay',
  'sorry',
  'just',
  'already',
  'again',
  'hi',
  'hello',
  'hey',
  'forever',
  'permanently',
  'seriously',
  'kindly',
  'politely',
  'respectfully',
  'thankyou',
  'bye',
  'goodbye',
];
// Swearing makes a request firmer, not something else: "just fucking stop", "stop fucking texting me".
const swearWords = [
  'fucking',
  'fuckin',
  'fking',
  'fkn',
  'fcking',
  'effing',
  'freaking',
  'freakin',
  'frigging',
  'friggin',
  'flipping',
  'bloody',
  'damn',
  'damned',
  'goddamn',
  'goddamned',
];
// So does a "no" before it ("No stop", "nope, stop"): not for CANCEL, where "no, cancel" may be about the appointment.
const emphasisWords = ['no', 'nope', 'nah', ...swearWords];
// Between STOP and the texting it asks to end, an adverb of how often or how much ("stop constantly texting me") or a
// swear word. Not any word in -ly: "stop early reminders" or "stop weekly texts" may ask to end some of them only.
const insistingAdverbs = [
  'constantly',
  'repeatedly',
  'continually',
  'continuously',
  'endlessly',
  'incessantly',
  'relentlessly',
  'literally',
  'really',
  'totally',
  'completely',
  'randomly',
];
const emphasisInPhrase = [...insistingAdverbs, ...swearWords].join('|');
// "and" joins courtesy and keywords without asking anything more: "STOP and remove", "stop please and thank you";
// "stop and think" or "cancel and reschedule" still fail, as "think" and "reschedule" are neither.
const joiningWords = ['and'];
// Nor does a reason given alongside it: "STOP. Wrong number", "not interested stop".
const courtesyPhrases = [
  'thank you',
  'thank u',
  'thank you so much',
  'thank you very much',
  'thanks so much',
  'many thanks',
  'right now',
  'at once',
  'for good',
  'for real',
  'i said',
  'no thanks',
  'no thank you',
  'wrong number',
  'not interested',
];
// What the request is aimed at, when that's the messages themselves: "stop it", "STOP ALL", "unsubscribe me".
const targetWords = [
  'me',
  'it',
  'all',
  'this',
  'these',
  'them',
  'us',
  'everything',
  'text',
  'texts',
  'txts',
  'message',
  'messages',
  'msgs',
  'sms',
  'notifications',
  'reminders',
  'alerts',
];
// How people soften a clear request into a question: "can you stop?", "I want to unsubscribe".
const askingPhrases = [
  'can you',
  'can u',
  'could you',
  'could u',
  'would you',
  'will you',
  'i want you to',
  'i need you to',
  'i want to',
  'i would like to',
  'id like to',
];

const courtesy = new Set([...courtesyWords, ...joiningWords]);
// "CANCEL ALL" is cancel aimed at every message; "all" is the one target a bare CANCEL takes ("cancel it" is a reply).
const courtesyOrAll = new Set([...courtesy, 'all']);
const courtesyOrTarget = new Set([...courtesy, ...targetWords, ...emphasisWords]);
const courtesyPhrase = phraseMatcher(courtesyPhrases);
const courtesyOrAskingPhrase = phraseMatcher([...courtesyPhrases, ...askingPhrases]);

const contactVerbs =
  'texting|txting|messaging|msging|contacting|calling|bothering|spamming|sending|harassing|pestering|hassling|bugging|annoying|emailing';
const contactNouns = 'texts?|txts?|messages?|msgs?|sms|notifications?|reminders?|alerts?|spam';
const textVerbs = 'text|txt|message|msg|contact|sms|bother|spam';
// What CANCEL can be aimed at for it to mean the messages: "cancel the texts", "cancel all future SMS alerts". Plural
// only: "cancel the text" or "cancel the reminder" names one message (or the appointment it was about).
const cancelledMessages =
  '(?:(?:all|the|these|those|your|ur|my|any|of|future|further|upcoming|more)\\s+)*(?:(?:text|txt|sms)\\s+)?(?:texts|txts|messages|msgs|sms|reminders|notifications|alerts)';
// Not a request to cancel: "don't cancel my reminders", "I'd rather not cancel the texts", "did you cancel the texts?".
const negatedCancel =
  '\\b(?:(?:dont|do not|didnt|did not|never|not|no need to|wont|will not|shouldnt|should not)\\s+(?:(?:you|u|ever|want to|wanna|need to|have to)\\s+)*|did (?:you|u|they|we|i|someone)\\s+(?:just\\s+)?)cancel\\b';
// After the messages, what narrows them to some: a time, an appointment or a condition ("the reminders for tomorrow",
// "the texts until Monday", "reminders if I reschedule"), like "don't text me before 9", or the ones the lead sent
// ("the messages I sent"). "for me", "for this number", "for good" and a reason ("I don't need them") don't.
const someOfThemOnly =
  '(?:(?:for|on|about|until|till|before|after)\\s+(?!me\\b|us\\b|good\\b|this number\\b|my (?:number|phone|cell)\\b)|(?:tomorrow|today|tonight|if|when|once)\\b|(?:i|we)\\s+(?:just\\s+)?(?:sent|wrote|typed|texted|scheduled|booked|set up)\\b)';

interface OptOutPhrase {
  pattern: RegExp;
  /** A use of the same words that doesn't ask to stop. */
  unless?: RegExp;
}

const optOutPhrases: OptOutPhrase[] = [
  // "stop texting me", "quit sending me texts", "please stop with the messages", "end these reminders"...
  {
    pattern: new RegExp(
      `\\b(?:stop|quit|end|cease)\\s+(?:(?:the|these|those|this|your|ur|all|any|with|of|more|me|us|it|${emphasisInPhrase})\\s+)*(?:${contactVerbs}|${contactNouns})\\b`,
      'u',
    ),
    // ...but not "don't stop texting me", "why did you stop texting me?" or "at the end messages were sent".
    unless:
      /\b(?:(?:dont|do not|cant|cannot|couldnt|wont|will not|wouldnt)\s+(?:ever\s+)?(?:stop|quit|end|cease)|(?:did|do|does)\s+(?:you|u|they|it)\s+(?:stop|quit|end|cease)|(?:the|an?)\s+(?:stop|end))\b/u,
  },
  // "I told you to stop", "how many times do I have to tell you stop", "i asked u to quit".
  {
    pattern:
      /\b(?:told|tell|telling|asked|ask|asking|begged|warned)\s+(?:you|u|ya|yall)(?:\s+guys|\s+people)?\s+(?:to\s+)?(?:stop|quit)\b/u,
    unless: /\b(?:dont|do not|never|not|didnt|did not)\s+(?:\w+\s+){0,2}(?:tell|told|ask|asked)\b/u,
  },
  // "I want to stop receiving messages", "stop getting these texts".
  {
    pattern: new RegExp(
      `\\b(?:stop|quit|cease)\\s+(?:receiving|getting)\\s+(?:(?:the|these|those|this|your|ur|all|any|more|of|${emphasisInPhrase})\\s+)*(?:${contactNouns})\\b`,
      'u',
    ),
    unless:
      /\b(?:dont|do not|cant|cannot|couldnt|wont|will not|wouldnt|never|not)\s+(?:\w+\s+){0,3}?(?:stop|quit|cease)\b/u,
  },
  { pattern: /\bmake (?:it|them|this|these|the (?:texts|messages)) stop\b/u },
  // "enough with the texts": said of the messages, only ever means stop them.
  { pattern: new RegExp(`\\benough with (?:(?:the|these|those|your|ur|all)\\s+)*(?:${contactNouns})\\b`, 'u') },
  // "cancel all messages", "please cancel these texts", "cancel reminders": the carrier keyword CANCEL aimed at the
  // messages themselves. "cancel my appointment" or "cancel the 3pm" names something else and stays a reply.
  {
    pattern: new RegExp(`\\bcancel\\s+${cancelledMessages}\\b`, 'u'),
    unless: new RegExp(`${negatedCancel}|\\bcancel\\s+${cancelledMessages}\\s+${someOfThemOnly}`, 'u'),
  },
  // "how do I unsubscribe?", "opt-out": words that only ever mean this, unless negated ("I don't want to unsubscribe").
  {
    pattern: /\b(?:unsubscribe|unsub|optout|stopall)\b/u,
    unless:
      /\b(?:dont|do not|not|never|didnt|did not)\s+(?:want to\s+|wanna\s+|need to\s+)?(?:unsubscribe|unsub|optout|stopall)\b/u,
  },
  { pattern: /\bopt (?:me|us|this number) out\b/u },
  { pattern: /\b(?:revoke|withdraw|cancel)\s+(?:my\s+)?consent\b/u },
  // "cancel my subscription": a subscription is the messages, never the appointment.
  { pattern: /\b(?:cancel|end|terminate)\s+(?:my\s+|the\s+|this\s+|your\s+)?subscription\b/u },
  // "remove me from your list", "delete my number", "take me off", "get this number off your list".
  {
    pattern:
      /\b(?:remove|delete|erase)\s+(?:me|us|this number|my (?:number|phone number|phone|cell|info|details|name|contact info|contact))\b/u,
  },
  { pattern: /\b(?:take|get)\s+(?:me|us|this number|my (?:number|name|info))\s+off\b/u },
  // "do not text (me)", "don't text or call me again"; "don't call me, text me" asks for texts, so calls alone don't
  // count.
  {
    pattern: new RegExp(
      `\\b(?:dont|do not)\\s+(?:ever\\s+)?(?:(?:call|email)\\s+or\\s+)?(?:${textVerbs})(?:\\s+or\\s+(?:call|email))?(?:\\s+(?:me|us|this number|my (?:number|phone|cell)|again|anymore)\\b|$)`,
      'u',
    ),
    // ...but "don't text me before 9" or "until Monday" asks for a quieter time, not for silence.
    unless:
      /\b(?:me|us)\s+(?:before|after|until|till|til|during|between|tomorrow|today|tonight|this (?:week|weekend|morning|afternoon|evening)|at work|on (?:weekends?|sundays?|saturdays?))\b/u,
  },
  // "don't send me any more texts", "never send me messages again", "please do not send messages to this number": an
  // order, so the clause opens with it (after courtesy). "you guys never send me reminders" wants them.
  {
    pattern: new RegExp(
      `^(?:(?:please|pls|plz|kindly|just|ok|okay|so|and|now|hey|hi)\\s+)*(?:dont|do not|never)\\s+(?:ever\\s+)?send\\s+(?:(?:me|us)\\s+)?(?:(?:any|more|anymore|of|these|those|your|ur|such|further|another)\\s+)*(?:${contactNouns})\\b`,
      'u',
    ),
    // ...but "don't send me texts after 8pm", "at work" or "during the day" asks for a quieter time.
    unless: new RegExp(`\\b(?:${contactNouns})\\s+(?:${someOfThemOnly}|(?:at|during|between|while|in the)\\b)`, 'u'),
  },
  // "stop on this number", "stop all texts to my phone".
  {
    pattern:
      /\bstop\s+(?:(?:all|it|everything|texts|messages)\s+)?(?:on|to)\s+this\s+(?:number|phone|line)\b|\bstop\s+(?:all\s+)?(?:texts|messages)\s+to\s+my\s+(?:number|phone|cell)\b/u,
  },
  // "remove from list", "remove from your texting list", "remove number"; not "the wait list" or "the list".
  {
    pattern:
      /\bremove\s+(?:(?:me|us|this number|my number)\s+)?from\s+(?:(?:your|ur|all|any)\s+)*(?:(?:texting|text|sms|mailing|contact|calling|call|marketing|messaging)\s+)?list\b/u,
  },
  { pattern: /^(?:please\s+)?remove\s+(?:this\s+|my\s+)?number(?:\s+please)?$/u },
  // "how do I stop these?", "how can I stop receiving your texts".
  {
    pattern: new RegExp(
      `\\bhow (?:do|can|would) (?:i|we)\\s+(?:stop|end|quit|block)\\s+(?:(?:these|those|the|your|ur|all|any|of|receiving|getting)\\s+)*(?:(?:${contactNouns})\\b|(?:these|those|them)$)`,
      'u',
    ),
  },
  {
    pattern: new RegExp(`\\bnever\\s+(?:${textVerbs})\\s+(?:me\\s+|us\\s+|this number\\s+)?(?:ever\\s+)?again\\b`, 'u'),
  },
  {
    pattern: new RegExp(
      `\\b(?:dont|do not|no longer)\\s+(?:want|wish|need)\\s+(?:to (?:receive|get)\\s+)?(?:(?:any|more|of|these|those|your|ur|the)\\s+)*(?:${contactNouns})\\b`,
      'u',
    ),
  },
  { pattern: /\b(?:dont|do not|no longer)\s+(?:want|wish)\s+to\s+be\s+(?:contacted|texted|messaged)\b/u },
  // "no more texts", "no more of these messages".
  { pattern: new RegExp(`\\bno more\\s+(?:\\w+\\s+){0,2}?(?:${contactNouns}|texting|messaging|contact)\\b`, 'u') },
  // "wrong number", "you have the wrong person"; but "I gave you the wrong number" is a correction, not a stranger.
  {
    pattern: /\bwrong (?:number|num|no|person|phone|cell)\b/u,
    unless: /\b(?:i|we)\s+(?:\w+\s+)?(?:gave|give|entered|typed|put|wrote|used)\b/u,
  },
  { pattern: /\bleave (?:me|us) alone\b/u },
  { pattern: /\b(?:lose|forget) (?:my|this) number\b/u },
];

/**
 * A reaction an iPhone (or Google Messages) sends by SMS to a phone outside iMessage or RCS: the verb, then the message
 * reacted to in quotes ('Liked “Hi Ada… Reply STOP to opt out.”', 'Reacted 👍 to “…”', 'Removed a heart from “…”').
 * The quoted words are ours, not the lead's: the lead answered, and asked for nothing.
 */
const reaction =
  /^\s*(?:liked|loved|disliked|laughed at|emphasi[sz]ed|questioned|reacted \S{1,16} to|removed an? \S+(?: \S+)? from)\s+["“][\s\S]*["”]\s*$/iu;

export function classifyInbound(body: string, options: ClassifyOptions = {}): InboundIntent {
  const reported = twilioOptOutTypes.get(options.twilioOptOutType?.trim().toUpperCase() ?? '');
  if (reported) return reported;
  if (reaction.test(body)) return 'message';
  const clauses = clausesOf(withoutSignature(withoutQuoteOfOurs(body, options.ourTexts ?? [])));
  const whole = clauses.join(' ');
  if (optInKeywords.has(whole)) return 'opt_in';
  if (helpKeywords.has(whole)) return 'help';
  if (asksToOptOut(whole, clauses)) return 'opt_out';
  return 'message';
}

function asksToOptOut(whole: string, clauses: string[]): boolean {
  if (isBareRequest(whole, cancelKeywords, courtesyOrAll, courtesyPhrase)) return true;
  if (isBareRequest(whole, everydayOptOutKeywords, courtesyOrTarget, courtesyPhrase)) return true;
  return clauses.some(
    (clause) =>
      isBareRequest(clause, clearOptOutKeywords, courtesyOrTarget, courtesyOrAskingPhrase) ||
      opensWithKeyword(clause) ||
      endsWithKeyword(clause) ||
      optOutPhrases.some(({ pattern, unless }) => pattern.test(clause) && !unless?.test(clause)),
  );
}

/** Words around a keyword that say nothing about what it asks: "please", "ok", "no", "just", a swear word. */
const softeners = new Set([...courtesy, ...emphasisWords]);
/** After the keyword, the same without "and", which may lead on to something else ("stop and think"). */
const aimOrCourtesy = new Set([...courtesyWords, ...targetWords, ...emphasisWords]);
const leadingCourtesy = new RegExp(
  `^(?:(?:${[...courtesyPhrases].sort((a, b) => b.length - a.length).join('|')})\\s+)+`,
  'u',
);
/** After "stop the" or "stop my", what makes it our messages: "stop my texts", "stop the robo calls", "stop the harassment". */
const ourMessagesWord = new RegExp(
  `^(?:${contactNouns}|calls?|robocalls?|harassment|marketing|ads|promos?|promotions?)$`,
  'u',
);
/** Where the thing a determiner names ends: "stop the payment i will text you" names the payment only. */
const endsNounPhrase = new Set(['i', 'you', 'u', 'we', 'and', 'then', 'so', 'but', 'on', 'for', 'to', 'with']);
const determiners = new Set(['the', 'my', 'a', 'an', 'our', 'his', 'her', 'their']);
/** An auxiliary, its subject (not our texts, not a verb in -ing), then STOP: "does the sale stop", "why did you stop". */
const questionAboutStopping = new RegExp(
  `\\b(?:do|does|did|will|would|can|could|should|wont|cant|doesnt|didnt)\\s+(?:(?!(?:${contactNouns}|me|not)\\b)(?!\\w+ing\\b)\\w+\\s+){1,3}(?:stop|quit)$`,
  'u',
);
/**
 * "… to stop" asks it when what is to stop is our texts, or the one texting: "I want the texts to stop", "I need u to
 * stop", "can you get them to stop"; not the lead ("do you want me to stop?").
 */
const ourTextsToStop = new RegExp(
  `\\b(?:${contactNouns}|it|this|these|them|they|you|u|ya|yall|guys)\\s+(?:(?!me\\b)\\w+\\s+){0,2}?to\\s+(?:stop|quit)$`,
  'u',
);
const someoneMakesMeStop = /\b(?:make|makes|made|let|lets|help|helps|told|tell|tells|asked|ask)\s+me\s+(?:stop|quit)$/u;
/** …unless it is denied: "I don't want you guys to stop". */
const deniedStop =
  /\b(?:dont|do not|not|never|wont|cant|cannot|didnt|doesnt|no need)\s+(?:\w+\s+){0,4}?to\s+(?:stop|quit)$/u;

/** "Stop I'm not interested", "STOP who is this", "stop lol": a clear keyword first, then the lead's own words. */
function opensWithKeyword(clause: string): boolean {
  // After courtesy that only softens it: "i said stop you idiots". Not after an asking phrase: "can you stop Monday?"
  // asks for a visit.
  const words = clause.replace(leadingCourtesy, '').split(' ');
  let at = words.findIndex((word) => !softeners.has(word));
  if (!clearOptOutKeywords.has(words[at] ?? '')) return false;
  // What it is aimed at, and courtesy, change nothing: "stop it I said" reads on at "i", "stop it with the jokes" at "with".
  do at += 1;
  while (at < words.length && (aimOrCourtesy.has(words[at] ?? '') || clearOptOutKeywords.has(words[at] ?? '')));
  const next = words[at];
  if (next === undefined) return false; // nothing else: isBareRequest's to judge
  // "stop the leak", "stop my order" name something else; "stop my texts", "stop the automated messages" do not.
  if (determiners.has(next)) {
    const named = words.slice(at + 1);
    const end = named.findIndex((word) => endsNounPhrase.has(word));
    return named.slice(0, end < 0 ? undefined : end).some((word) => ourMessagesWord.test(word));
  }
  // "stop I meant Tuesday" corrects what the lead said; "STOP I meant it" does not.
  if (next === 'i' && correctingVerbs.has(words[at + 1] ?? '') && words[at + 2] !== 'it') return false;
  return !everydayAfterStop.has(next) && !next.endsWith('ing');
}

/** "This is harassment stop", "not interested. just stop now", "It needs to stop": the keyword closes the clause. */
function endsWithKeyword(clause: string): boolean {
  const words = clause.split(' ');
  let at = words.length - 1;
  while (at >= 0 && softeners.has(words[at] ?? '')) at -= 1;
  if (!clearOptOutKeywords.has(words[at] ?? '')) return false;
  const statement = words.slice(0, at + 1).join(' ');
  do at -= 1;
  while (at >= 0 && softeners.has(words[at] ?? ''));
  const before = words[at];
  if (before === undefined) return false;
  if (before === 'to') return ourTextsToStop.test(statement) && !deniedStop.test(statement);
  // "why are you texting me stop" asks it; "don't make me stop", "the doctor told me stop" do not.
  if (before === 'me') return !someoneMakesMeStop.test(statement);
  return !everydayBeforeStop.has(before) && !questionAboutStopping.test(statement);
}

/** True when the text is nothing but keywords and words that don't change what they ask. */
function isBareRequest(
  text: string,
  keywords: ReadonlySet<string>,
  fillerWords: ReadonlySet<string>,
  fillerPhrases: RegExp,
): boolean {
  const requests = text
    .replace(fillerPhrases, ' ')
    .split(' ')
    .filter((word) => word && !fillerWords.has(word));
  return requests.length > 0 && requests.every((word) => keywords.has(word));
}

/** A signature's delimiter line: what follows it is the signature ("End.\n--\nJohn Smith"). */
const signatureDelimiter = /^\s*--\s*$/u;
/**
 * A line a phone or a mail-to-SMS gateway adds under the message ("Sent from my iPhone", "Get Outlook for Android").
 * Not a name after a dash: "Cancel\n- Tuesday" is the lead's own words, and read as "Cancel" it would opt them out.
 */
const signatureLine = /^\s*(?:sent (?:from|via|with|using)|get outlook for)\s.{1,100}$/iu;
const isSignatureLine = (line: string) => line.trim() === '' || signatureLine.test(line);

/**
 * The message without the signature under it: not the lead's words, and left in, it makes a bare "Quit" or "END" a
 * sentence ("quit sent from my iphone"), which counts as no request. Only trailing lines, and never the first.
 */
export function withoutSignature(body: string): string {
  const lines = body.split(/\r?\n/u);
  const delimiter = lines.findIndex((line, index) => index > 0 && signatureDelimiter.test(line));
  if (delimiter > 0) lines.length = delimiter;
  while (lines.length > 1 && isSignatureLine(lines.at(-1) ?? '')) lines.pop();
  return lines.join('\n');
}

/** Lower-case clauses of plain words: what people wrote, without the ways of writing it that don't matter. */
function clausesOf(body: string): string[] {
  return (
    body
      .normalize('NFKC') // full-width "ＳＴＯＰ" and other compatibility forms read as plain letters
      .replace(/\u200B/gu, ' ') // a zero-width space parts words: "Please\u200Bstop"
      .replace(/\p{Cf}/gu, '') // other invisible format characters (a soft hyphen, a joiner) split no word: "Q\u00ADUIT"
      .toLowerCase()
      .replace(/['‘’ʼ`´]/gu, '') // "don't", "don’t" and "dont" are one word
      .replace(/\bwrong\s*#/gu, 'wrong number') // "#" ends a clause anywhere else ("STOP #", "#stop")
      .normalize('NFD')
      .replace(/\p{M}/gu, '') // accents and emoji variation selectors don't change the word: "stóp" is "stop"
      // Punctuation, quotes, emoji and line breaks end a clause: "STOP. Wrong number", "STOP 🛑 who is this",
      // "Stop\n\nSent from my iPhone".
      .split(/[^\p{L}\p{N}\p{Zs}\t-]+/u)
      .map((clause) =>
        clause
          .replace(/[\s-]+/gu, ' ')
          .trim()
          .replace(/\bopt out\b/gu, 'optout'),
      )
      .filter(Boolean)
  );
}

function phraseMatcher(phrases: readonly string[]): RegExp {
  // Longest first, so "thank you so much" is taken whole rather than leaving "so much" behind.
  const longestFirst = [...phrases].sort((a, b) => b.length - a.length);
  return new RegExp(`\\b(?:${longestFirst.join('|')})\\b`, 'gu');
}
