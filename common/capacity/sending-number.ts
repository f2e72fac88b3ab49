import { createHash } from 'node:crypto';

/**
 * The number (or Messaging Service) a lead hears from: one of its tenant's, the same one every time for the same
 * lead (replies and STOPs go back to the number that texted), or the deployment's default when the tenant has none.
 */
export function sendingNumberFor(tenantSenders: readonly string[], leadPhone: string, fallback: string): string {
  if (tenantSenders.length === 0) return fallback;
  const sorted = [...tenantSenders].sort();
  const index = createHash('sha256').update(leadPhone).digest().readUInt32BE(0) % sorted.length;
  return sorted[index] ?? fallback;
}
