// The Twilio webhooks operations of the OpenAPI document (see ./operation.ts).
import { inboundSchema, statusSchema } from '../../routes/twilio-webhooks.js';
import { type Operation } from './operation.js';

export const twilioWebhooksOperations: Operation[] = [
  {
    method: 'post',
    path: '/webhooks/twilio/inbound',
    summary: "Twilio's incoming-message webhook (STOP, replies, confirmations)",
    tag: 'Twilio webhooks',
    auth: 'twilio',
    body: inboundSchema,
    bodyType: 'application/x-www-form-urlencoded',
    ok: { 200: { description: 'TwiML (an auto-reply, or empty)', mediaType: 'text/xml' } },
  },
  {
    method: 'post',
    path: '/webhooks/twilio/status',
    summary: "Twilio's message status callback",
    tag: 'Twilio webhooks',
    auth: 'twilio',
    body: statusSchema,
    bodyType: 'application/x-www-form-urlencoded',
    ok: { 200: { description: 'TwiML (empty)', mediaType: 'text/xml' } },
  },
];
