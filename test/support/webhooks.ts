import { randomBytes } from 'node:crypto';
import request from 'supertest';
import twilio from 'twilio';
import { inboundWebhookPath, publicUrl, statusWebhookPath } from '../../common/config.js';
import { testAuthToken, testPublicBaseUrl } from './stack.js';

export const messageSid = () => `SM${randomBytes(16).toString('hex')}`;
/** A sending number of our own per tenant (tenants are found by the number a message was sent to). */
export const randomSenderNumber = () => `+1555${String(Math.floor(Math.random() * 10_000_000)).padStart(7, '0')}`;

/** Posts form parameters as Twilio does, signed with twilio-node's own function for the public URL Twilio calls. */
export function postWebhook(
  app: Parameters<typeof request>[0],
  path: string,
  params: Record<string, string>,
  options: { signature?: string | null; baseUrl?: string } = {},
) {
  const signature =
    options.signature === undefined
      ? twilio.getExpectedTwilioSignature(testAuthToken, publicUrl(options.baseUrl ?? testPublicBaseUrl, path), params)
      : options.signature;
  const call = request(app).post(path).type('form').send(params);
  return signature === null ? call : call.set('X-Twilio-Signature', signature);
}

export const inbound = (
  app: Parameters<typeof request>[0],
  params: { From: string; To: string; Body: string; MessageSid?: string },
  options?: Parameters<typeof postWebhook>[3],
) =>
  postWebhook(
    app,
    inboundWebhookPath,
    {
      MessageSid: params.MessageSid ?? messageSid(),
      AccountSid: `AC${'1'.repeat(32)}`,
      From: params.From,
      To: params.To,
      Body: params.Body,
    },
    options,
  );

export const statusCallback = (
  app: Parameters<typeof request>[0],
  params: { MessageSid: string; MessageStatus: string; ErrorCode?: string },
) => postWebhook(app, statusWebhookPath, { AccountSid: `AC${'1'.repeat(32)}`, ...params });
