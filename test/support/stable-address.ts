import { connect, createServer, type Socket } from 'node:net';

/**
 * A fixed address in front of a PostgreSQL server, as a failover's virtual IP or a load balancer gives clients: it
 * keeps its port while the server behind it stops and starts again on another, so no other process on a busy
 * machine can take the port in between. With no server behind it, it resets each new connection at once.
 */
export interface StableAddress {
  /** The port of the server behind it, on 127.0.0.1; undefined while there is none. */
  target: number | undefined;
  /** `url` with this address in place of its host and port. */
  urlFor(url: string): string;
  /** Closes the address and every connection through it. */
  close(): Promise<void>;
}

export async function stableAddress(): Promise<StableAddress> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    track(client);
    if (address.target === undefined) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(address.target, '127.0.0.1');
    track(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const address: StableAddress = {
    target: undefined,
    urlFor: (url) => {
      const through = new URL(url);
      through.hostname = '127.0.0.1';
      through.port = String(port);
      return through.toString();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return address;
}
