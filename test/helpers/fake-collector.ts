/**
 * A stand-in collector for agent tests: a real HTTP server (node:http, free port on 127.0.0.1) that records
 * every ingest request and answers from a script (status + body, a connection reset, or no answer at all).
 * Call closeFakeCollectors() in afterEach.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IngestBatch } from '../../common/wire.ts';

export type Answer = { status: number; body?: unknown; headers?: Record<string, string> } | 'reset' | 'hang';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: IngestBatch;
}

export interface FakeCollector {
  url: string;
  requests: RecordedRequest[];
  /** Answers for the next requests, in order; afterwards every request gets a 200 IngestAck. */
  script: Answer[];
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

const servers = new Set<Server>();

function closeServer(server: Server): Promise<void> {
  servers.delete(server);
  return new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** Closes every fake collector still open. */
export async function closeFakeCollectors(): Promise<void> {
  await Promise.all([...servers].map(closeServer));
}

/** The ErrorBody shape the collector answers 4xx/5xx with. */
export function errorBody(statusCode: number, code: string, message: string) {
  return { statusCode, code, error: 'Error', message };
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(payload === undefined ? '' : JSON.stringify(payload));
}

export async function fakeCollector(): Promise<FakeCollector> {
  const requests: RecordedRequest[] = [];
  const script: Answer[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(text) as IngestBatch;
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const answer = script.shift() ?? { status: 200 };
      if (answer === 'reset') {
        req.socket.destroy();
        return;
      }
      if (answer === 'hang') return;
      const ack = { batch_id: body.batch_id, accepted: body.samples.length, duplicate: false, server_time: body.sent_at };
      for (const [k, v] of Object.entries(answer.headers ?? {})) res.setHeader(k, v);
      send(res, answer.status, answer.body ?? (answer.status === 200 ? ack : undefined));
    });
  });
  servers.add(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, script, close: () => closeServer(server) };
}
