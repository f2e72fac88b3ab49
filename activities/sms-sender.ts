import { createRequire } from 'node:module';
import twilio from 'twilio';
import type ServiceExceptionModule from 'twilio/lib/base/TwilioServiceException.js';
import { defaultSenderOf, type SmsMode } from '../common/config.js';
import { createdStatuses, type CreatedStatus } from '../common/message-status.js';
import { createTwilioClient } from './twilio-client.js';

export interface OutboundSms {
  to: string;
  body: string;
  /** The number (E.164) or Messaging Service SID it goes out from; unset: the sender's default. */
  from?: string;
  /** Twilio drops the message if it is still queued this long after the create call (its ValidityPeriod). */
  validityPeriodSeconds?: number;
}

export interface SentSms {
  /** Twilio's message SID; null in outbox mode, where nothing leaves the building. */
  sid: string | null;
  status: 'simulated' | CreatedStatus;
  /** When Twilio created it, for a message found afterwards rather than created by this call. */
  createdAt?: Date;
  /** Twilio's error for a message found afterwards already failed or undelivered (21610, 30005, …). */
  errorCode?: number | null;
}

export interface SmsSender {
  readonly mode: SmsMode['kind'];
  /** What messages go out from when their tenant has no sending number of its own. */
  readonly defaultFrom: string;
  send(sms: OutboundSms): Promise<SentSms>;
  /**
   * Looks for a message already created for this recipient and body since `since`, other than `knownSids`. A create
   * call that timed out may still have been sent ("maybe sent"); a retry asks here first instead of sending again.
   */
  findSent(sms: OutboundSms, since: Date, knownSids: ReadonlySet<string>): Promise<SentSms | null>;
}

/** Errors that are not Twilio's answers (timeouts, resets) carry the request config, auth header included: keep only what is safe to log. */
export class TwilioTransportError extends Error {
  constructor(
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'TwilioTransportError';
  }
}

// Not exported from the package's root: twilio-node throws it for an error body in RFC 9457's form, RestException for
// the older one. Both are Twilio's answer, with its status and error code. Required, as twilio-node loads it: an
// import's default is the class or its module depending on the loader's interop.
const { default: TwilioServiceException } = createRequire(import.meta.url)(
  'twilio/lib/base/TwilioServiceException.js',
) as typeof ServiceExceptionModule;

async function guarded<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof twilio.RestException || error instanceof TwilioServiceException) throw error;
    const code = (error as { code?: unknown }).code;
    throw new TwilioTransportError(
      typeof code === 'string' ? code : undefined,
      error instanceof Error ? error.message : 'Twilio request failed',
    );
  }
}

export function createSmsSender(mode: SmsMode): SmsSender {
  if (mode.kind === 'outbox') return outboxSender;
  const client = createTwilioClient({
    accountSid: mode.accountSid,
    authToken: mode.authToken,
    ...(mode.apiBaseUrl ? { apiBaseUrl: mode.apiBaseUrl } : {}),
  });
  return createTwilioSender(client, mode.sender, mode.statusCallbackUrl);
}

/** The embedded default: the message row is the whole delivery, so a retry can never duplicate anything. */
const outboxSender: SmsSender = {
  mode: 'outbox',
  defaultFrom: defaultSenderOf({ kind: 'outbox' }),
  async send() {
    return { sid: null, status: 'simulated' };
  },
  async findSent() {
    return null;
  },
};

const knownStatuses = new Set<string>(createdStatuses);
const isCreatedStatus = (status: string): status is CreatedStatus => knownStatuses.has(status);

/** Any other status is taken for queued: the status callbacks tell the rest. */
function toSentSms(message: { sid: string; status: string }): SentSms {
  return { sid: message.sid, status: isCreatedStatus(message.status) ? message.status : 'queued' };
}

/**
 * What of a body Twilio keeps as we sent it: its letters and digits. Smart Encoding (on by default for Messaging
 * Services) swaps quotes, dashes, ellipses and odd spaces for GSM-7 ones in the body it stores, and may drop accents.
 */
const wordsOf = (body: string) => body.normalize('NFKD').replace(/[^\p{L}\p{N}]/gu, '');

/** A page of Twilio's message list, as far as the lookup reads it. */
interface ListedPage {
  instances: Array<{ sid: string; status: string; body: string; dateCreated: Date; errorCode: number | null }>;
  nextPage(): Promise<ListedPage> | undefined;
}

/** 1,000 messages to one phone since a row was written is far past any real conversation. */
const maxLookupPages = 20;

/** Clocks differ between us and Twilio; a message created this long before our row was written still counts. */
const clockSkewMs = 60_000;

export function createTwilioSender(
  client: twilio.Twilio,
  sender: { from: string } | { messagingServiceSid: string },
  statusCallbackUrl?: string,
): SmsSender {
  const senderOf = (from: string | undefined) =>
    !from ? sender : from.startsWith('MG') ? { messagingServiceSid: from } : { from };
  return {
    mode: 'twilio',
    defaultFrom: 'from' in sender ? sender.from : sender.messagingServiceSid,
    async send(sms) {
      const message = await guarded(() =>
        client.messages.create({
          to: sms.to,
          body: sms.body,
          ...senderOf(sms.from),
          ...(statusCallbackUrl ? { statusCallback: statusCallbackUrl } : {}),
          ...(sms.validityPeriodSeconds ? { validityPeriod: sms.validityPeriodSeconds } : {}),
        }),
      );
      return toSentSms(message);
    },
    async findSent(sms, since, knownSids) {
      // No DateSent filter: Twilio leaves date_sent empty while a message is accepted or queued, exactly the case here.
      const from = senderOf(sms.from);
      const words = wordsOf(sms.body);
      const oldest = since.getTime() - clockSkewMs;
      // A page at a time, back to the row's time: a phone texted often since (other rows, other enrollments, a
      // Messaging Service's other senders) has more than one page of newer messages. Twilio orders the list by
      // DateSent, which a queued message lacks and a slow one gets late, so an older message on a page ends nothing:
      // a page with none as new as the row does.
      let page: ListedPage = await guarded(() =>
        client.messages.page({ to: sms.to, ...('from' in from ? { from: from.from } : {}), pageSize: 50 }),
      );
      for (let pages = 1; ; pages += 1) {
        const recent = page.instances.filter((message) => message.dateCreated.getTime() >= oldest);
        const match = recent.find((message) => !knownSids.has(message.sid) && wordsOf(message.body) === words);
        if (match) return { ...toSentSms(match), createdAt: match.dateCreated, errorCode: match.errorCode ?? null };
        // Asked only when it will be read: a next page's request left unawaited would, failing, end the process.
        if (recent.length === 0 || pages >= maxLookupPages) return null;
        const next = page.nextPage();
        if (!next) return null;
        page = await guarded(() => next);
      }
    },
  };
}
