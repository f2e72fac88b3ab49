import { SegmentedMessage } from 'sms-segments-calculator';

export interface SegmentCount {
  encoding: 'GSM-7' | 'UCS-2';
  segments: number;
}

/**
 * How many SMS segments Twilio bills for `body`: GSM-7 when every character is in the GSM 03.38 alphabet (160 per
 * single message, 153 per part once split), UCS-2 otherwise (70, then 67). Twilio's Smart Encoding is not assumed,
 * so a body is never counted cheaper than it may be billed.
 */
export function countSegments(body: string): SegmentCount {
  const message = new SegmentedMessage(body, 'auto');
  return { encoding: message.encodingName === 'UCS-2' ? 'UCS-2' : 'GSM-7', segments: message.segmentsCount };
}
