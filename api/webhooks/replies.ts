import type { Tenant } from '../../generated/prisma/client.js';

/** CTIA: the HELP reply names the programme, the frequency, the rates notice, how to opt out and a contact. */
export function helpReply(tenant: Tenant): string {
  const contact = tenant.supportContact ? ` Help: ${tenant.supportContact}.` : '';
  return `${tenant.businessName}: follow-up texts about your enquiry, up to ${tenant.maxPerDay} msgs/day. Msg & data rates may apply. Reply STOP to opt out.${contact}`;
}

/** One confirmation (all the FCC rule allows) naming every business a STOP to a shared number unsubscribed from. */
export function optOutReply(tenants: Tenant[]): string {
  const names = [...new Set(tenants.map((tenant) => tenant.businessName))].join(', ');
  return `${names}: you are unsubscribed and will get no more messages. Reply START to resubscribe.`;
}

export const optInReply = (tenant: Tenant) =>
  `${tenant.businessName}: you are subscribed again. Reply HELP for help, STOP to opt out.`;
