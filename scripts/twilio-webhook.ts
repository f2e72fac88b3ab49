// Sends a webhook to the local API signed exactly as Twilio signs it, for trying the webhooks without Twilio.
//   npm run webhook -- inbound <from> <to> <body...>        e.g. inbound +447700900123 +15005550006 STOP
//   npm run webhook -- status <MessageSid> <status> [code]   e.g. status SM0123… delivered
import { randomBytes } from 'node:crypto';
import twilio from 'twilio';
import {
  configSchema,
  inboundWebhookPath,
  orExit,
  parseSettings,
  publicUrl,
  statusWebhookPath,
} from '../common/config.js';

const config = orExit(() =>
  parseSettings(
    configSchema.pick({
      API_HOST: true,
      API_PORT: true,
      PUBLIC_BASE_URL: true,
      TWILIO_AUTH_TOKEN: true,
      TWILIO_ACCOUNT_SID: true,
    }),
  ),
);
if (!config.TWILIO_AUTH_TOKEN) {
  process.stderr.write('Set TWILIO_AUTH_TOKEN (the same value the API runs with) to sign webhooks.\n');
  process.exit(2);
}
const [kind, ...args] = process.argv.slice(2);
const sid = () => `SM${randomBytes(16).toString('hex')}`;
const accountSid = config.TWILIO_ACCOUNT_SID ?? `AC${'0'.repeat(32)}`;
let path: string;
let params: Record<string, string>;
if (kind === 'inbound' && args.length >= 3) {
  const [from = '', to = '', ...words] = args;
  path = inboundWebhookPath;
  params = { MessageSid: sid(), AccountSid: accountSid, From: from, To: to, Body: words.join(' ') };
} else if (kind === 'status' && args.length >= 2) {
  const [messageSid = '', status = '', code] = args;
  path = statusWebhookPath;
  params = {
    MessageSid: messageSid,
    AccountSid: accountSid,
    MessageStatus: status,
    ...(code ? { ErrorCode: code } : {}),
  };
} else {
  process.stderr.write(
    'usage: npm run webhook -- inbound <from> <to> <body...> | status <MessageSid> <status> [errorCode]\n',
  );
  process.exit(2);
}
// Signed for the URL Twilio would call: PUBLIC_BASE_URL when set (as the API checks it), else the API's own address.
const apiUrl = `http://${config.API_HOST}:${config.API_PORT}${path}`;
const signedUrl = config.PUBLIC_BASE_URL ? publicUrl(config.PUBLIC_BASE_URL, path) : apiUrl;
const response = await fetch(apiUrl, {
  method: 'POST',
  headers: {
    'Content-Type': 'application/x-www-form-urlencoded',
    'X-Twilio-Signature': twilio.getExpectedTwilioSignature(config.TWILIO_AUTH_TOKEN, signedUrl, params),
  },
  body: new URLSearchParams(params),
});
process.stdout.write(`${response.status} ${await response.text()}\n`);
