// Phone numbers in a request's URL, masked as everywhere in our logs: the request log's URL and the 404 that names a
// path no route has.
import { maskPhone } from '../common/logger.js';

/** A +E.164 number in a URL, as typed or percent-encoded, with the spaces, dots, dashes and brackets people type. */
const phoneInUrl = /(?:\+|%2B)\d(?:[\d.()-]|%20|%28|%29)*\d/gi;
/**
 * The opt-outs routes' path segment is a phone number in any format the tenant's region reads, national ones too. In
 * any case, as Express routes it.
 */
const optOutPhoneSegment = /(\/opt-outs\/)([^/?#]+)/i;

/** A phone number has seven digits or more: fewer, it is something else (a time zone offset: +01:00, +0100). */
const atLeastSevenDigits = /(?:\d\D*){7}/;

/** The request's URL as logged: phone numbers masked, as everywhere in our logs. */
export function loggedUrl(url: string): string {
  return url
    .replace(phoneInUrl, (found) => {
      const phone = decodeURIComponent(found);
      return atLeastSevenDigits.test(phone) ? maskPhone(phone) : found;
    })
    .replace(optOutPhoneSegment, (_route, path: string, phone: string) => `${path}${maskPhone(phone)}`);
}
