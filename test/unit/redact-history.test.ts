import { describe, expect, it } from 'vitest';
import { redactHistory } from '../../scripts/histories/redact.js';

const payload = (value: unknown) => ({
  metadata: { encoding: Buffer.from('json/plain').toString('base64') },
  data: Buffer.from(JSON.stringify(value)).toString('base64'),
});
const decode = (data: string) => JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as unknown;

describe('redactHistory', () => {
  it('scrubs phone numbers and names inside payloads and plain fields', () => {
    const history = JSON.stringify({
      events: [
        {
          input: { payloads: [payload({ to: '+447700900123', body: 'Hi Ada', memo: '+44***123' })] },
          note: 'call +15005550006',
        },
      ],
    });
    const redacted = JSON.parse(redactHistory(history, ['Ada'])) as {
      events: [{ input: { payloads: [{ data: string }] }; note: string }];
    };
    expect(decode(redacted.events[0].input.payloads[0].data)).toEqual({
      to: '+10000000000',
      body: 'Hi Lead',
      memo: '+00***000',
    });
    expect(redacted.events[0].note).toBe('call +10000000000');
  });
});
