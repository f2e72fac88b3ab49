// The Twilio webhooks operations of the OpenAPI document (see ./operation.ts).
import { inboundSchema, statusSchema } from '../../routes/twilio-webhooks.js';
import { type Operation, area } from './operation.js';

const { operation } = area('Twilio webhooks', 'twilio');
const twiml = (description: string) => ({ 200: { description, mediaType: 'text/xml' } });
const form = 'application/x-www-form-urlencoded';

export const twilioWebhooksOperations: Operation[] = [
  operation('post', '/webhooks/twilio/inbound', "Twilio's incoming-message webhook (STOP, replies, confirmations)", {
    ok: twiml('TwiML (an auto-reply, or empty)'),
    body: inboundSchema,
    bodyType: form,
  }),
  operation('post', '/webhooks/twilio/status', "Twilio's message status callback", {
    ok: twiml('TwiML (empty)'),
    body: statusSchema,
    bodyType: form,
  }),
];
