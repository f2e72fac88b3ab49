import { claimLoopbackPort } from '../../common/free-port.js';

/**
 * A free port below 32768, which the system never hands out for port 0 (its ephemeral range starts there): for
 * Temporal's membership ports, which its cluster_membership table keeps in a smallint.
 */
export async function freeLowPort(): Promise<number> {
  for (let attempt = 0; ; attempt += 1) {
    const candidate = 10_000 + Math.floor(Math.random() * 22_000);
    try {
      return await claimLoopbackPort(candidate);
    } catch (error) {
      if (attempt >= 50) throw error;
    }
  }
}
