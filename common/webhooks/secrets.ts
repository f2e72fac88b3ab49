import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** How long a rotated-out secret keeps signing beside the new one, so the receiver can switch without missing a beat. */
export const previousSecretOverlapMs = 24 * 3_600_000;

/** Standard Webhooks' secret format: `whsec_` and the base64 of the key (24 random bytes, 192 bits). */
export const newWebhookSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

export interface SigningSecrets {
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
}

/** The webhook-signature header: a `v1,` signature per secret in force, space-separated (the receiver needs one to match). */
function signatureHeader(
  secrets: SigningSecrets,
  message: { id: string; timestamp: Date; body: string },
  now = new Date(),
): string {
  const inForce = [secrets.secret];
  if (secrets.previousSecret && secrets.previousSecretExpiresAt && secrets.previousSecretExpiresAt > now)
    inForce.push(secrets.previousSecret);
  return inForce.map((secret) => new Webhook(secret).sign(message.id, message.timestamp, message.body)).join(' ');
}

/** Standard Webhooks' three headers for one request: its id (the same on every retry), when it was sent, and who signed it. */
export function standardWebhookHeaders(
  secrets: SigningSecrets,
  message: { id: string; body: string },
  at = new Date(),
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  return {
    'webhook-id': message.id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signatureHeader(secrets, { ...message, timestamp: at }, at),
  };
}
