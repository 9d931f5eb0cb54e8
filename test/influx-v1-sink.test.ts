/**
 * The InfluxDB 1.x sink's write request, seen by an HTTP server: path under a base path, db and precision, basic
 * auth, the line protocol body; and how its failures are classified (400 refused, others retried). Writing into a
 * real influxd is covered by the forwarder tests (test/influx-forwarder.test.ts).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createInfluxV1Sink } from '../collector/influx/sink.ts';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

async function server(answer: (req: IncomingMessage) => { status: number; body?: string }): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body: Buffer.concat(chunks).toString('utf8') });
      const a = answer(req);
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(a.body ?? '');
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, seen, server: srv };
}

describe('InfluxDB 1.x sink writes', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  it('posts the points as line protocol to /write with db, precision ms and basic auth', async () => {
    const s = await server(() => ({ status: 204 }));
    servers.push(s.server);
    const sink = createInfluxV1Sink({ url: `${s.url}/influx/`, database: 'lab db', username: 'jishi', password: 'p:w' });
    await sink.write([
      { measurement: 'reading', tags: { instrument_id: 'A' }, fields: { power_w: 1.5 }, timestamp: '1000' },
      { measurement: 'reading', tags: { instrument_id: 'B' }, fields: { power_w: 2, status: 'RUN' }, timestamp: '2000' },
    ]);
    await sink.write([]);
    expect(s.seen).toEqual([
      {
        method: 'POST',
        url: '/influx/write?db=lab+db&precision=ms',
        authorization: `Basic ${Buffer.from('jishi:p:w').toString('base64')}`,
        body: 'reading,instrument_id=A power_w=1.5 1000\nreading,instrument_id=B power_w=2,status="RUN" 2000',
      },
    ]);
  });

  it('reports a 400 as refused (retrying cannot help), other failures as retryable', async () => {
    let status = 400;
    const s = await server(() => ({ status, body: '{"error":"field type conflict"}' }));
    servers.push(s.server);
    const sink = createInfluxV1Sink({ url: s.url, database: 'jishi' });
    const point = { measurement: 'reading', fields: { power_w: 1 }, timestamp: '1' };
    const refused = await sink.write([point]).catch((err: unknown) => err);
    expect(sink.isRejected(refused)).toBe(true);
    expect(String(refused)).toContain('HTTP 400: {"error":"field type conflict"}');
    expect(s.seen[0]!.authorization).toBeUndefined();
    for (status of [404, 500, 503]) {
      const err = await sink.write([point]).catch((e: unknown) => e);
      expect(err, `HTTP ${status}`).toBeInstanceOf(Error);
      expect(sink.isRejected(err), `HTTP ${status}`).toBe(false);
    }
    // A point no InfluxDB can take is refused before any request.
    const before = s.seen.length;
    const bad = await sink.write([{ measurement: 'reading', fields: { power_w: Number.NaN } }]).catch((e: unknown) => e);
    expect(sink.isRejected(bad)).toBe(true);
    expect(s.seen).toHaveLength(before);
  });

  it('gives up on a server that does not answer within the request timeout (retryable)', async () => {
    const srv = createServer(() => undefined); // never answers
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
    servers.push(srv);
    const sink = createInfluxV1Sink({ url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, database: 'jishi', requestTimeoutMs: 200 });
    const err = await sink.write([{ measurement: 'reading', fields: { power_w: 1 } }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String(err)).toContain('timed out after 200 ms');
    expect(sink.isRejected(err)).toBe(false);
  });

  it('names the reason when nothing listens (retryable)', async () => {
    const srv = createServer();
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
    const port = (srv.address() as AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const sink = createInfluxV1Sink({ url: `http://127.0.0.1:${port}`, database: 'jishi' });
    const err = await sink.write([{ measurement: 'reading', fields: { power_w: 1 } }]).catch((e: unknown) => e);
    expect(String(err)).toBe(`Error: write to http://127.0.0.1:${port} database jishi failed: ECONNREFUSED`);
    expect(sink.isRejected(err)).toBe(false);
  });
});
