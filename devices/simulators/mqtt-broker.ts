/**
 * An in-process MQTT broker (aedes), so the demo runs MQTT devices without any server installed.
 * In-memory only (retained messages live as long as the broker); MQTT 3.1.1; plain TCP on loopback by default.
 */
import net from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBrokerOptions {
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** TCP port; 0 (the default) picks a free one, reported as `port`. */
  port?: number;
}

export interface EmbeddedBroker {
  readonly host: string;
  readonly port: number;
  /** e.g. `mqtt://127.0.0.1:41883` */
  readonly url: string;
  /** MQTT clients connected right now. */
  connectedClients(): number;
  /** Disconnects every client and stops listening; resolves when the port is free. Never rejects. */
  close(): Promise<void>;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const broker = await Aedes.createBroker();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    broker.handle(socket);
  });
  // Client errors (resets, bad packets) are expected; they must not crash the process.
  broker.on('clientError', () => undefined);
  broker.on('connectionError', () => undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port: options.port ?? 0 }, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw err;
  }
  const { port } = server.address() as net.AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`,
    connectedClients: () => broker.connectedClients,
    close: () =>
      (closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await stopped;
      })()),
  };
}
