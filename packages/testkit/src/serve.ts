import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Starts a fake's server on 127.0.0.1 (port 0 unless a test names one) and gives its port and a
 * stop that does not wait for kept-alive client connections to go idle.
 *
 * @example const { port, stop } = await serveLoopback(server, opts.port);
 */
export async function serveLoopback(server: Pick<Server, 'listen' | 'address' | 'close' | 'closeAllConnections'>, port?: number): Promise<{ port: number; stop(): Promise<void> }> {
  await new Promise<void>((r) => server.listen(port ?? 0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
