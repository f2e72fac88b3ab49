import { createServer } from 'node:net';

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** A port nobody listens on right now, so two test runs on one machine don't collide. */
export function freePort(): Promise<number> {
  return listenOnce(0);
}

/**
 * A free port below 32768, which the system never hands out for port 0 (its ephemeral range starts there): for
 * Temporal's membership ports, which its cluster_membership table keeps in a smallint.
 */
export async function freeLowPort(): Promise<number> {
  for (let attempt = 0; ; attempt += 1) {
    const candidate = 10_000 + Math.floor(Math.random() * 22_000);
    try {
      return await listenOnce(candidate);
    } catch (error) {
      if (attempt >= 50) throw error;
    }
  }
}
