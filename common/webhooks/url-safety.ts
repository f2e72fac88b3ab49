// Endpoint URLs come from tenants: without these checks a tenant could make our workers POST to our own database
// admin port, a neighbour on the private network or the cloud metadata service (SSRF). The URL is checked when it is
// saved and again at every delivery, against the addresses its name resolves to then (a DNS answer can change).
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import ipaddr from 'ipaddr.js';
import pLimit from 'p-limit';

/**
 * A lookup (getaddrinfo) holds one of libuv's four threads for as long as the host's name server takes, and those
 * threads resolve our database and Twilio too: tenants' hosts take at most two at once, a caller waits at most
 * `lookupWaitMs` (the host then does not resolve, for this check), and past `lookupsQueuedAtMost` waiting a new one is
 * refused at once. A name server that never answers must hold back that tenant's URLs only: each tenant has at most one
 * lookup among the two (its others wait behind it, not in everyone's queue), and a lookup whose caller has given up is
 * never started (a queue of stale lookups would otherwise take the slots, one after another, long after).
 */
const tenantLookups = pLimit(2);
const lookupsOf = new Map<string, ReturnType<typeof pLimit>>();
const lookupWaitMs = 5_000;
const lookupsQueuedAtMost = 50;

async function lookupTenantHost(host: string, owner: string): Promise<Array<{ address: string; family: number }>> {
  const own = lookupsOf.get(owner) ?? pLimit(1);
  if (tenantLookups.pendingCount >= lookupsQueuedAtMost || own.pendingCount >= lookupsQueuedAtMost) return [];
  lookupsOf.set(owner, own);
  let gaveUp = false;
  const looked = own(() =>
    gaveUp ? [] : tenantLookups(() => (gaveUp ? [] : lookup(host, { all: true, verbatim: true }))),
  ).finally(() => {
    if (own.activeCount + own.pendingCount === 0 && lookupsOf.get(owner) === own) lookupsOf.delete(owner);
  });
  looked.catch(() => undefined);
  const answer = await Promise.race([looked, sleep(lookupWaitMs, null, { ref: false })]);
  if (answer === null) gaveUp = true;
  return answer ?? [];
}

const refusedRanges: Array<{ reason: string; v4: Array<[string, number]>; v6: Array<[string, number]> }> = [
  { reason: 'a loopback address', v4: [['127.0.0.0', 8]], v6: [['::1', 128]] },
  { reason: 'an unspecified address', v4: [['0.0.0.0', 8]], v6: [['::', 128]] },
  {
    reason: 'a private address',
    v4: [
      ['10.0.0.0', 8],
      ['172.16.0.0', 12],
      ['192.168.0.0', 16],
    ],
    // 64:ff9b:1::/48: NAT64 for a local network only (RFC 8215). fec0::/10: site-local, deprecated but still routed
    // on some networks.
    v6: [
      ['fc00::', 7],
      ['64:ff9b:1::', 48],
      ['fec0::', 10],
    ],
  },
  // 169.254.169.254 is the cloud metadata service.
  { reason: 'a link-local address', v4: [['169.254.0.0', 16]], v6: [['fe80::', 10]] },
  { reason: 'a carrier-grade NAT address', v4: [['100.64.0.0', 10]], v6: [] },
  // Never a public host: benchmarking networks (RFC 2544), the IETF's protocol assignments and the reserved 240/4.
  {
    reason: 'a reserved address',
    v4: [
      ['198.18.0.0', 15],
      ['192.0.0.0', 24],
      ['240.0.0.0', 4],
    ],
    v6: [],
  },
  {
    reason: 'a multicast or broadcast address',
    v4: [
      ['224.0.0.0', 4],
      ['255.255.255.255', 32],
    ],
    v6: [['ff00::', 8]],
  },
];

const blockLists = refusedRanges.map(({ reason, v4, v6 }) => {
  const list = new BlockList();
  for (const [network, prefix] of v4) list.addSubnet(network, prefix, 'ipv4');
  for (const [network, prefix] of v6) list.addSubnet(network, prefix, 'ipv6');
  return { reason, list };
});

/**
 * The IPv4 address an IPv6 one stands for, which decides where a request to it really goes: IPv4-mapped
 * (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d, RFC 6145), IPv4-compatible (::a.b.c.d), NAT64
 * (64:ff9b::a.b.c.d), 6to4 (2002:aabb:ccdd::) and Teredo (2001:0:…, the client's address in the last 32 bits with
 * every bit flipped, RFC 4380).
 */
function embeddedIPv4(address: string): string | null {
  if (!ipaddr.IPv6.isValid(address)) return null;
  const ipv6 = ipaddr.IPv6.parse(address);
  const [, sixToFourHigh = 0, sixToFourLow = 0, , , , high = 0, low = 0] = ipv6.parts;
  const ipv4 = (h: number, l: number) => ipaddr.fromByteArray([h >> 8, h & 255, l >> 8, l & 255]).toString();
  const range = ipv6.range();
  const compatible = ipv6.parts.slice(0, 6).every((part) => part === 0);
  if (compatible || range === 'ipv4Mapped' || range === 'rfc6145' || range === 'rfc6052') return ipv4(high, low);
  if (range === 'teredo') return ipv4(high ^ 0xffff, low ^ 0xffff);
  return range === '6to4' ? ipv4(sixToFourHigh, sixToFourLow) : null;
}

/** Why an address may not be a webhook target, or null when it may. */
export function refusedAddressReason(address: string): string | null {
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  const refused = blockLists.find(({ list }) => list.check(address, family))?.reason;
  if (refused) return refused;
  const inner = embeddedIPv4(address);
  return inner ? refusedAddressReason(inner) : null;
}

/** What a refused host resolved to: for the server's log only. */
export interface RefusedResolution {
  host: string;
  /** Absent when the name did not resolve at all. */
  address?: string;
  /** The kind of address that made it refused (refusedAddressReason), or that the name did not resolve. */
  kind: string;
}

/**
 * One answer for a name that does not resolve and one that resolves only inside our network: if they differed, a
 * tenant could tell which internal names exist by trying URLs.
 */
const nonPublicHost =
  'the host must resolve, and only to public internet addresses; webhook URLs must reach the public internet';

export class UnsafeUrlError extends Error {
  /**
   * `reason` goes back to the tenant (an API answer, a delivery's lastError), so it names the rule broken and never
   * where the host resolves: otherwise a tenant could map our network's names and addresses by trying URLs.
   */
  constructor(
    readonly reason: string,
    readonly resolved?: RefusedResolution,
  ) {
    super(reason);
    this.name = 'UnsafeUrlError';
  }
}

export interface UrlPolicy {
  /** WEBHOOK_ALLOW_PRIVATE_URLS: http and loopback/private targets, for development and tests only. */
  allowPrivate: boolean;
  /** The tenant whose URL it is: its host's lookups wait behind its own, not everyone's. */
  owner: string;
}

export interface CheckedTarget {
  url: URL;
  /** The addresses the host resolved to, every one checked: connect to these, never resolve again. */
  addresses: Array<{ address: string; family: number }>;
}

/** Resolves the URL's host and refuses it (UnsafeUrlError) unless every address may be reached. */
export async function checkTarget(rawUrl: string, policy: UrlPolicy): Promise<CheckedTarget> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new UnsafeUrlError('the URL cannot be parsed');
  }
  const schemes = policy.allowPrivate ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol))
    throw new UnsafeUrlError(`the URL must use ${policy.allowPrivate ? 'http or https' : 'https'}`);
  if (url.username || url.password) throw new UnsafeUrlError('the URL must not carry credentials');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: CheckedTarget['addresses'];
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookupTenantHost(host, policy.owner);
  } catch {
    addresses = [];
  }
  if (addresses.length === 0)
    throw new UnsafeUrlError(policy.allowPrivate ? 'the host does not resolve' : nonPublicHost, {
      host,
      kind: 'does not resolve',
    });
  if (!policy.allowPrivate) {
    for (const { address } of addresses) {
      const kind = refusedAddressReason(address);
      if (kind) throw new UnsafeUrlError(nonPublicHost, { host, address, kind });
    }
  }
  return { url, addresses };
}
