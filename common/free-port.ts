// Free loopback ports: the worker's private port for the SDK's metrics exporter (which cannot report a port it picked
// itself), and the test and bench stacks' ports, so two runs on one machine don't collide.
import { createServer } from 'node:net';

/** Listens on 127.0.0.1 at `port` (0: one the system picks) and lets go: the port, if it was free a moment ago. */
export function claimLoopbackPort(port: number): Promise<number> {
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

/** A loopback port nobody listens on right now. */
export const freePort = (): Promise<number> => claimLoopbackPort(0);
