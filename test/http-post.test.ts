/**
 * The agent's HTTP client (common/http-post.ts) against a real HTTP server: what fetch would give for the same
 * exchanges (status, headers, body, keep-alive), and fetch's shapes of failure (refused, aborted).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpPost } from '../common/http-post.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; sockets: () => number }> {
  const server = createServer(handler);
  let sockets = 0;
  server.on('connection', () => sockets++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/ingest`, sockets: () => sockets };
}

describe('httpPost', () => {
  it('sends method, headers and a UTF-8 body; gives status, headers and text as fetch does; keeps the connection', async () => {
    const seen: Array<{ method?: string; url?: string; auth?: string; type?: string; length?: string; body: string }> = [];
    const s = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({
          method: req.method,
          url: req.url,
          auth: req.headers.authorization,
          type: req.headers['content-type'],
          length: req.headers['content-length'],
          body: Buffer.concat(chunks).toString('utf8'),
        });
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
        res.end('{"code":"JISHI_ERR_BUSY","message":"忙"}');
      });
    });
    const init = { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer t0k' }, body: '{"机时":1}' };
    for (const post of [httpPost, fetch]) {
      const res = await post(s.url, init);
      expect(res.status).toBe(429);
      expect(res.headers.get('Retry-After')).toBe('7');
      expect(res.headers.get('x-missing')).toBeNull();
      expect(await res.text()).toBe('{"code":"JISHI_ERR_BUSY","message":"忙"}');
    }
    await httpPost(s.url, init);
    expect(seen[0]).toEqual({ method: 'POST', url: '/api/v1/ingest', auth: 'Bearer t0k', type: 'application/json', length: String(Buffer.byteLength(init.body)), body: init.body });
    expect(seen[2]).toEqual(seen[0]);
    // httpPost's two requests went over one kept-alive connection (fetch used one of its own).
    expect(s.sockets()).toBe(2);
  });

  it('fails like fetch when nothing listens: TypeError with the socket error as cause', async () => {
    const s = await listen(() => undefined);
    const url = s.url;
    servers[0]!.closeAllConnections();
    await new Promise((r) => servers.pop()!.close(r));
    const mine = await httpPost(url, { method: 'POST', headers: {}, body: '' }).catch((e: unknown) => e);
    const theirs = await fetch(url, { method: 'POST', body: '' }).catch((e: unknown) => e);
    for (const err of [mine, theirs]) {
      expect(err).toBeInstanceOf(TypeError);
      expect((err as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
    }
  });

  it('rejects with the signal reason when aborted, before or during the request', async () => {
    const s = await listen(() => undefined); // never answers
    const early = new AbortController();
    early.abort(new Error('early'));
    await expect(httpPost(s.url, { method: 'POST', headers: {}, body: 'x', signal: early.signal })).rejects.toThrow('early');
    const late = new AbortController();
    const pending = httpPost(s.url, { method: 'POST', headers: {}, body: 'x', signal: late.signal });
    setTimeout(() => late.abort(new Error('timed out')), 50);
    await expect(pending).rejects.toThrow('timed out');
  });
});
