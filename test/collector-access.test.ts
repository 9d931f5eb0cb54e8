/**
 * Collector hardening over real HTTP (app.listen on a free port, fetch / node:http): instruments scoped to their
 * agent, per-sample refusals that keep the rest of a batch, read access with viewer tokens, roles on admin
 * routes, the failed-authentication limit, load shedding with 503 + Retry-After, and HTTPS from the config.
 */
import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import { WIRE_VERSION, type Sample } from '../common/wire.ts';
import { buildApp, type BuildAppOptions, type CollectorApp } from '../collector/app.ts';
import { sha256Hex } from '../collector/auth.ts';
import { collectorConfigFromObject } from '../collector/config.ts';
import { EngineRunner } from '../collector/engine-runner.ts';
import { resolveParams } from '../collector/engine/params.ts';
import { DEFAULT_INGEST_POLICY, type IngestPolicy } from '../collector/routes/ingest.ts';
import { startCollector } from '../collector/server.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import { executable } from './helpers/require-tool.ts';

const NOW = Date.UTC(2025, 5, 2, 4, 0, 0);
const TOKENS = { a: 'token-agent-a', b: 'token-agent-b', admin: 'token-admin', viewer: 'token-viewer' } as const;

const apps: CollectorApp[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

async function serve(options: { policy?: Partial<IngestPolicy>; access?: BuildAppOptions['access'] } = {}) {
  const clock = new ManualClock(NOW);
  const store = openSqliteStore(':memory:');
  store.upsertAgent('lab-pc-a', sha256Hex(TOKENS.a));
  store.upsertAgent('lab-pc-b', sha256Hex(TOKENS.b));
  const params = resolveParams({});
  const engine = new EngineRunner({ store: store.engine, params: () => params, timeZone: 'Asia/Shanghai', clock, logger: silentLogger() });
  const app = buildApp({
    store,
    ownsStore: true,
    clock,
    engine,
    registry: [{ id: 'FCM-1' }, { id: 'XRD-2' }],
    sharing: { admins: [{ id: 'asset-office', tokenSha256: sha256Hex(TOKENS.admin) }] },
    access: { viewers: [{ id: 'dean', tokenSha256: sha256Hex(TOKENS.viewer) }], ...options.access },
    ingestPolicy: { ...DEFAULT_INGEST_POLICY, owners: new Map([['XRD-2', 'lab-pc-b']]), configured: new Set(['FCM-1', 'XRD-2']), ...options.policy },
  });
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address() as { port: number };
  return { app, clock, store, url: `http://127.0.0.1:${address.port}` };
}

let seq = 0;
function ingest(url: string, token: string, agent: string, samples: Sample[]) {
  seq++;
  return fetch(`${url}/api/v1/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ wire_version: WIRE_VERSION, agent_id: agent, batch_id: `b-${seq}`, seq, sent_at: NOW, samples }),
  });
}
const sample = (id: string, ts = NOW - 1000, power = 100): Sample => ({ instrument_id: id, ts, readings: { power_w: power } });

describe('ingest: instruments scoped to their agent, and per-sample refusals', () => {
  it('stores an agent’s own samples and refuses, by instrument and reason, those of an instrument another agent owns', async () => {
    const { url, store } = await serve();
    // FCM-1 has no owner in the config: the first agent to send it (lab-pc-a) owns it.
    expect((await ingest(url, TOKENS.a, 'lab-pc-a', [sample('FCM-1')])).status).toBe(200);
    const res = await ingest(url, TOKENS.b, 'lab-pc-b', [sample('XRD-2'), sample('FCM-1'), sample('FCM-1', NOW - 500), sample('XRD-2', NOW - 500)]);
    expect(res.status).toBe(200);
    const ack = (await res.json()) as any;
    expect(ack).toMatchObject({ accepted: 2, duplicate: false });
    expect(ack.rejected).toEqual([
      { instrument_id: 'FCM-1', code: 'JISHI_ERR_INSTRUMENT_NOT_OWNED', message: 'instrument FCM-1 belongs to agent lab-pc-a', count: 2 },
    ]);
    // XRD-2 is bound to lab-pc-b in the config: lab-pc-a may not write it even though it is unseen... it was seen now.
    const foreign = await ingest(url, TOKENS.a, 'lab-pc-a', [sample('XRD-2', NOW - 200)]);
    expect(foreign.status).toBe(422);
    expect((await foreign.json()) as any).toMatchObject({ code: 'JISHI_ERR_SAMPLES_REJECTED', message: expect.stringContaining('JISHI_ERR_INSTRUMENT_NOT_OWNED') });
    expect(store.listInstruments().map((i) => [i.id, i.agent_id])).toEqual([
      ['FCM-1', 'lab-pc-a'],
      ['XRD-2', 'lab-pc-b'],
    ]);
  });

  it('refuses samples far in the future or the past, and unknown instruments when told to', async () => {
    const { url } = await serve({ policy: { unknownInstruments: 'reject' } });
    const res = await fetch(`${url}/api/v1/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.a}` },
      body: `{"wire_version":1,"agent_id":"lab-pc-a","batch_id":"t-1","seq":1,"sent_at":${NOW},"samples":[
        {"instrument_id":"FCM-1","ts":${NOW - 1000},"readings":{"power_w":12}},
        {"instrument_id":"FCM-1","ts":${NOW + 3_600_000},"readings":{"power_w":12}},
        {"instrument_id":"FCM-1","ts":${NOW - 500 * 86_400_000},"readings":{"power_w":12}},
        {"instrument_id":"GHOST-9","ts":${NOW - 800},"readings":{"power_w":1}}]}`,
    });
    expect(res.status).toBe(200);
    const ack = (await res.json()) as any;
    expect(ack.accepted).toBe(1);
    expect(ack.rejected.map((r: { code: string; count: number }) => `${r.code} x${r.count}`).sort()).toEqual([
      'JISHI_ERR_SAMPLE_TIME x2',
      'JISHI_ERR_UNKNOWN_INSTRUMENT x1',
    ]);
  });
});

describe('access: roles and read access', () => {
  it('keeps reads open by default, and asks for a token with read_access: token', async () => {
    const open = await serve();
    expect((await fetch(`${open.url}/api/v1/instruments`)).status).toBe(200);
    const closed = await serve({ access: { readAccess: 'token' } });
    const anonymous = await fetch(`${closed.url}/api/v1/instruments`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as any).code).toBe('JISHI_ERR_UNAUTHORIZED');
    for (const t of [TOKENS.viewer, TOKENS.admin, TOKENS.a]) {
      expect((await fetch(`${closed.url}/api/v1/instruments`, { headers: { authorization: `Bearer ${t}` } })).status).toBe(200);
    }
    expect((await fetch(`${closed.url}/healthz`)).status).toBe(200);
  });

  it('answers 403 to a valid token of the wrong role: a viewer changing the registry, an admin or viewer sending readings', async () => {
    const { url } = await serve();
    const patch = await fetch(`${url}/api/v1/registry/FCM-1`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.viewer}` },
      body: JSON.stringify({ location: 'B102' }),
    });
    expect(patch.status).toBe(403);
    expect(((await patch.json()) as any).code).toBe('JISHI_ERR_FORBIDDEN');
    const asAdmin = await ingest(url, TOKENS.admin, 'lab-pc-a', [sample('FCM-1')]);
    expect(asAdmin.status).toBe(403);
    expect(((await asAdmin.json()) as any).code).toBe('JISHI_ERR_FORBIDDEN');
  });

  it('blocks an address after too many failed authentications (429 + Retry-After) until the minute has passed', async () => {
    const { url, clock } = await serve({ access: { authFailuresPerMinute: 5 } });
    for (let i = 0; i < 5; i++) expect((await ingest(url, `wrong-${i}`, 'lab-pc-a', [sample('FCM-1')])).status).toBe(401);
    const blocked = await ingest(url, TOKENS.a, 'lab-pc-a', [sample('FCM-1')]);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toBe('60');
    expect(((await blocked.json()) as any).code).toBe('JISHI_ERR_RATE_LIMITED');
    // Reads with a bad token count too; a correct token does not reset the count.
    clock.advance(60_001);
    expect((await ingest(url, TOKENS.a, 'lab-pc-a', [sample('FCM-1')])).status).toBe(200);
  });
});

describe('load shedding', () => {
  it('answers 503 + Retry-After while more ingest requests are in flight than the limit, before reading their bodies', async () => {
    const { url } = await serve({ policy: { maxConcurrentIngest: 1, retryAfterS: 7 } });
    const { port } = new URL(url);
    // A slow agent: headers and half a body, the rest later.
    const body = JSON.stringify({ wire_version: WIRE_VERSION, agent_id: 'lab-pc-a', batch_id: 'slow', seq: 1, sent_at: NOW, samples: [sample('FCM-1')] });
    const slow = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/api/v1/ingest', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${TOKENS.a}` } });
    const slowDone = new Promise<number>((resolve, reject) => {
      slow.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      slow.on('error', reject);
    });
    slow.write(body.slice(0, 20));
    await new Promise((r) => setTimeout(r, 100));
    let shed: Response;
    try {
      shed = await ingest(url, TOKENS.a, 'lab-pc-a', [sample('FCM-1', NOW - 700)]);
    } finally {
      // Whatever happened, the slow request must end, or closing the app waits for it.
      setTimeout(() => slow.end(body.slice(20)), 0);
    }
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('7');
    expect(((await shed.json()) as any).code).toBe('JISHI_ERR_OVERLOADED');
    expect(await slowDone).toBe(200);
    // Load is back under the limit.
    expect((await ingest(url, TOKENS.a, 'lab-pc-a', [sample('FCM-1', NOW - 600)])).status).toBe(200);
  });
});

describe.skipIf(!executable('/usr/bin/openssl'))('HTTPS from the config (tls.cert, tls.key)', () => {
  it('serves the API over TLS with the configured certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jishi-tls-'));
    try {
      execFileSync('/usr/bin/openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      writeFileSync(join(dir, 'collector.yaml'), 'listen: { port: 0 }\ndata_dir: data\ntls: { cert: cert.pem, key: key.pem }\n');
      const config = collectorConfigFromObject({ listen: { port: 0 }, data_dir: 'data', tls: { cert: 'cert.pem', key: 'key.pem' } }, 'tls', { baseDir: dir });
      const collector = await startCollector(config, { logger: silentLogger() });
      try {
        expect(collector.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
        const ca = (await import('node:fs')).readFileSync(join(dir, 'cert.pem'));
        const status = await new Promise<number>((resolve, reject) => {
          const req = httpsRequest(`${collector.url}/healthz`, { ca }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end();
        });
        expect(status).toBe(200);
      } finally {
        await collector.close();
      }
      const missing = collectorConfigFromObject({ listen: { port: 0 }, data_dir: 'data2', tls: { cert: 'nope.pem', key: 'key.pem' } }, 'tls', { baseDir: dir });
      await expect(startCollector(missing, { logger: silentLogger() })).rejects.toThrow(/cannot read the TLS certificate .*nope\.pem: ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
