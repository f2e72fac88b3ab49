import type twilio from 'twilio';
import type { SmsMode } from '../common/config.js';
import { createTwilioClient } from './twilio-client.js';

export interface OutboundSms {
  to: string;
  body: string;
}

export interface SentSms {
  /** Twilio's message SID; null in outbox mode, where nothing leaves the building. */
  sid: string | null;
  status: 'simulated' | 'accepted' | 'queued' | 'sending' | 'sent' | 'delivered' | 'undelivered' | 'failed' | 'scheduled';
}

export interface SmsSender {
  readonly mode: SmsMode['kind'];
  send(sms: OutboundSms): Promise<SentSms>;
  /**
   * Looks for a message already created for this recipient and body since `since`. A create call that timed
   * out may still have been sent ("maybe sent"); a retry asks here first instead of sending again blindly.
   */
  findSent(sms: OutboundSms, since: Date): Promise<SentSms | null>;
}

export function createSmsSender(mode: SmsMode): SmsSender {
  if (mode.kind === 'outbox') return outboxSender;
  const client = createTwilioClient({
    accountSid: mode.accountSid,
    authToken: mode.authToken,
    ...(mode.apiBaseUrl ? { apiBaseUrl: mode.apiBaseUrl } : {}),
  });
  return createTwilioSender(client, mode.sender);
}

/** The embedded default: the message row is the whole delivery, so a retry can never duplicate anything. */
const outboxSender: SmsSender = {
  mode: 'outbox',
  async send() {
    return { sid: null, status: 'simulated' };
  },
  async findSent() {
    return null;
  },
};

const knownStatuses = new Set<SentSms['status']>(['accepted', 'queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'scheduled']);

function toSentSms(message: { sid: string; status: string }): SentSms {
  const status = knownStatuses.has(message.status as SentSms['status']) ? (message.status as SentSms['status']) : 'queued';
  return { sid: message.sid, status };
}

export function createTwilioSender(
  client: twilio.Twilio,
  sender: { from: string } | { messagingServiceSid: string },
): SmsSender {
  return {
    mode: 'twilio',
    async send(sms) {
      const message = await client.messages.create({ to: sms.to, body: sms.body, ...sender });
      return toSentSms(message);
    },
    async findSent(sms, since) {
      // DateSent filters by day in Twilio, so the exact instant and the body are checked here.
      const candidates = await client.messages.list({ to: sms.to, dateSentAfter: since, limit: 50 });
      const match = candidates.find(
        (message) => message.body === sms.body && message.dateCreated.getTime() >= since.getTime() - 60_000,
      );
      return match ? toSentSms(match) : null;
    },
  };
}
