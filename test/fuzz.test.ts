/**
 * Fuzzing the collector's HTTP surface: thousands of seeded (reproducible) malformed requests through app.inject,
 * some through a real socket (node:http, and raw bytes over node:net for HTTP that does not parse).
 * Every answer must be 2xx or a 4xx ErrorBody whose code is in the catalog; never 5xx; the app still answers
 * /healthz afterwards, and the heap does not grow from one round to the next. No wall-clock asserts.
 *
 * A failure names the case (`round/index kind`); rerun with the same seed to get the same request.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import { ERRORS } from '../common/errors.ts';
import { silentLogger } from '../common/log.ts';
import { mulberry32 } from '../common/prng.ts';
import { INGEST_PATH, WIRE_VERSION } from '../common/wire.ts';
import { buildApp, type CollectorApp } from '../collector/app.ts';
import { sha256Hex } from '../collector/auth.ts';
import { EngineRunner } from '../collector/engine-runner.ts';
import { resolveParams } from '../collector/engine/params.ts';
import { DEFAULT_TIME_ZONE } from '../collector/engine/time-zone.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import type { Store } from '../collector/store/store.ts';
import { T0 } from './helpers/batches.ts';

const AGENT_TOKEN = 'jishi_fuzz-agent-token';
const ADMIN_TOKEN = 'jishi_fuzz-admin-token';
const BODY_LIMIT = 256 * 1024;
const ROUND_SIZE = 2500;
const SOCKET_CASES = 250;
/** Seeds of the rounds; JISHI_FUZZ_SEED explores others (the default run is always the same requests). */
const SEED = Number(process.env.JISHI_FUZZ_SEED ?? 0x5eed00);
/** Generous: the runs take seconds; this only stops a hung request from hanging the suite. */
const FUZZ_TIMEOUT_MS = 300_000;

interface Case {
  kind: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

interface Answer {
  statusCode: number;
  contentType: string | undefined;
  body: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Generators

class Gen {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** Mostly printable, with quotes, backslashes, controls, CJK, emoji and lone surrogates. */
  str(max: number): string {
    const n = this.int(max + 1);
    const parts = ['a', 'Z', '0', '9', '-', '_', '.', ':', '/', '\\', '"', "'", ' ', '\n', '\t', '\u0000', '%', '&', '=', '?', '#', '机', '时', '😀', '\ud800', '\udfff', '<', '>', '$', '{', '}'];
    let s = '';
    for (let i = 0; i < n; i++) s += this.pick(parts);
    return s;
  }
  /** Any JSON value, a few levels deep. */
  value(depth = 3): unknown {
    switch (this.int(depth > 0 ? 9 : 6)) {
      case 0:
        return null;
      case 1:
        return this.bool();
      case 2:
        return this.pick([0, -0, -1, 1.5, 2 ** 53 + 2, -(2 ** 63), 1e308, 5e-324, 4294967296, 1]);
      case 3:
        return this.str(20);
      case 4:
        return '';
      case 5:
        return this.pick(['power_w', 'JISHI_ERR_DEVICE_TIMEOUT', 'MS-1', '2025-01-01', 'true', '1', 'null']);
      case 6:
        return Array.from({ length: this.int(4) }, () => this.value(depth - 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let i = this.int(4); i > 0; i--) o[this.pick(['a', 'power_w', 'ts', '__proto__', 'constructor', 'prototype', this.str(8)])] = this.value(depth - 1);
        return o;
      }
    }
  }
}

/** A fresh agent_status with nothing wrong (what a healthy agent reports); cases mutate it in place. */
function healthyStatus(): Record<string, unknown> {
  return {
    started_at: T0 - 1000,
    outbox_depth: 1,
    outbox_oldest_ts: null,
    dropped_samples: 0,
    lost_samples: 0,
    device_errors: 0,
    failing_instruments: [],
    uplink_failures: 0,
  };
}

function validBatch(g: Gen): Record<string, unknown> {
  const samples = Array.from({ length: 1 + g.int(4) }, (_, i) => ({
    instrument_id: g.pick(['MS-1', 'XRD-2', 'CONF-9']),
    ts: T0 - g.int(60_000) + i,
    readings: { power_w: g.int(3000), ...(g.bool() ? { energy_kwh: g.int(1000) / 10 } : {}) },
    ...(g.bool(0.2) ? { status: 'RUN' } : {}),
  }));
  return {
    wire_version: WIRE_VERSION,
    agent_id: 'lab-pc-1',
    batch_id: `b-${g.int(1e9)}`,
    seq: g.int(1000),
    sent_at: T0,
    samples,
    ...(g.bool(0.3)
      ? {
          agent_status: healthyStatus(),
        }
      : {}),
  };
}

/** Every path into a value (object keys and array indexes), the root excluded. */
function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (value === null || typeof value !== 'object') return [];
  const out: Array<Array<string | number>> = [];
  for (const [k, v] of Object.entries(value)) {
    const p = [...prefix, Array.isArray(value) ? Number(k) : k];
    out.push(p, ...paths(v, p));
  }
  return out;
}

function setAt(root: unknown, path: Array<string | number>, value: unknown, remove = false): void {
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (remove) delete node[last];
  else node[last] = value;
}

const json = { 'content-type': 'application/json' };
const agentAuth = { authorization: `Bearer ${AGENT_TOKEN}` };
const adminAuth = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** GET routes and their query parameters (the event stream is left out: it never ends). */
const GET_ROUTES: ReadonlyArray<{ url: (g: Gen) => string; keys: readonly string[] }> = [
  { url: () => '/healthz', keys: [] },
  { url: () => '/metrics', keys: [] },
  { url: () => '/openapi.json', keys: [] },
  { url: () => '/api/v1/agents', keys: [] },
  { url: () => '/api/v1/instruments', keys: [] },
  { url: (g) => `/api/v1/instruments/${idLike(g)}/readings`, keys: ['from', 'to', 'points'] },
  { url: (g) => `/api/v1/instruments/${idLike(g)}/calibration`, keys: ['from', 'to', 'bins'] },
  { url: () => '/api/v1/utilization', keys: ['from', 'to', 'instrument', 'group'] },
  { url: () => '/api/v1/sessions', keys: ['from', 'to', 'instrument'] },
  { url: () => '/api/v1/registry', keys: [] },
  { url: (g) => `/api/v1/registry/${idLike(g)}`, keys: [] },
  { url: () => '/api/v1/bookings', keys: ['instrument', 'from', 'to'] },
  { url: () => '/api/v1/board', keys: [] },
  { url: () => '/api/v1/exports/annual', keys: ['year', 'format', 'sheet'] },
  { url: () => '/', keys: [] },
  { url: (g) => `/web/${g.pick(['app.js', 'style.css', 'nope.js', '', '.', '..', 'index.html'])}`, keys: [] },
];

/** encodeURIComponent, with lone surrogates (which it refuses) sent as the invalid UTF-8 `%ED%A0%80`. */
function enc(text: string): string {
  return text
    .split(/([\ud800-\udfff])/u)
    .map((part) => (/^[\ud800-\udfff]$/u.test(part) ? '%ED%A0%80' : encodeURIComponent(part)))
    .join('');
}

function idLike(g: Gen): string {
  return g.pick([
    'MS-1',
    'XRD-2',
    '',
    '..',
    '%2e%2e',
    '..%2f..%2fetc%2fpasswd',
    '%00',
    '%zz',
    '%',
    'x'.repeat(64),
    'x'.repeat(65),
    'x'.repeat(150),
    encodeURIComponent('机时'),
    enc(g.str(10)),
    '1;DROP TABLE agents',
    "'--",
  ]);
}

const QUERY_VALUES = [
  '',
  '2025-01-01',
  '2025-02-30',
  '2025-13-01',
  '0000-00-00',
  '9999-12-31',
  '1970-01-01',
  '-1',
  '0',
  '1',
  '200',
  '201',
  '99999',
  '999999999999999',
  '1e309',
  'NaN',
  'Infinity',
  'day',
  'month',
  'year',
  'total',
  'xlsx',
  'csv',
  'json',
  'html',
  'summary',
  'sessions',
  'mismatches',
  'pdf',
  '2025',
  '1999',
  '2101',
  'MS-1',
  'MS-1,XRD-2',
  'MS-1,,',
  ',',
  '%zz',
  '%',
  '%00',
  '../../etc/passwd',
  'x'.repeat(5000),
];

function query(g: Gen, keys: readonly string[]): string {
  if (g.bool(0.1)) return g.pick(['?', '?&&&', '?=', '?==&=', '?%', '?a=%E0%A4%A', '?__proto__[x]=1', '?constructor[prototype][x]=1', '?from[]=1&from[]=2', '?to[$gt]=1', `?${'a'.repeat(3000)}`]);
  const parts: string[] = [];
  for (let n = g.int(5); n > 0; n--) {
    const key = keys.length > 0 && g.bool(0.8) ? g.pick(keys) : g.pick(['x', 'from[]', '__proto__', 'constructor', enc(g.str(5))]);
    const raw = g.bool(0.85) ? g.pick(QUERY_VALUES) : g.str(12);
    parts.push(`${key}=${g.bool(0.7) ? enc(raw) : raw.replace(/[\s#\u0000-\u001f\u007f-\uffff]/gu, '_')}`);
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

const CONTENT_TYPES = [
  'text/plain',
  'text/plain; charset=utf-8',
  'application/xml',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/jsonx',
  'application/json, text/plain',
  'APPLICATION/JSON',
  'application/vnd.api+json',
  'text/csv',
  '',
  ';;;',
  'application/octet-stream',
  '*/*',
];

const BAD_AUTH = [
  '',
  'Bearer',
  'Bearer ',
  'Bearer  ',
  'bearer x',
  'Bearer\tjishi',
  `Bearer ${AGENT_TOKEN} extra`,
  `Bearer ${AGENT_TOKEN}x`,
  `Basic ${Buffer.from('a:b').toString('base64')}`,
  `Bearer ${'x'.repeat(8000)}`,
  'Bearer ../../etc/passwd',
  'Bearer %00',
  `Bearer ${ADMIN_TOKEN}`,
  'Token abc',
  `BEARER ${AGENT_TOKEN}`,
];

const TRAVERSALS = [
  '/web/../../etc/passwd',
  '/web/..%2f..%2fetc%2fpasswd',
  '/web/%2e%2e/%2e%2e/etc/passwd',
  '/web/%252e%252e/etc/passwd',
  '/web/....//....//etc/passwd',
  '/web/..\\..\\windows\\win.ini',
  '/web/%c0%ae%c0%ae/etc/passwd',
  '/web/index.html%00.js',
  '/web//etc/passwd',
  '/web/./app.js',
  '//etc/passwd',
  '/../../../../etc/passwd',
  '/api/v1/../../etc/passwd',
  '/api/v1/registry/..%2f..%2f..%2fetc%2fpasswd',
  '/api/v1/registry/%2e%2e',
  '/api/v1/instruments/..%2f/readings',
  '/%2e%2e/%2e%2e/package.json',
  '/collector/app.ts',
  '/package.json',
  '/.env',
  '/web/.env',
  '/web/%zz',
  '/api/v1/%',
];

const NUMBER_SPELLINGS = ['NaN', 'Infinity', '-Infinity', 'undefined', '0x10', '01', '+1', '.5', '1.', '1e', '--1', '1_000', "'1'"];
const BIG_NUMBERS = ['1e309', '-1e309', '1e-400', '123456789012345678901234567890', '9007199254740993', '-0', '1E308', '4.9e-324'];
const TIMESTAMPS = [-1, -1e15, 0, 1, 1e15, 8.64e15, 8.64e15 + 1, 2 ** 53, Number.MAX_SAFE_INTEGER, T0 + 10 * 365 * 86_400_000, T0 - 50 * 365 * 86_400_000, T0 + 0.5];

/** One request of a random kind. */
function fuzzCase(g: Gen): Case {
  const post = (kind: string, payload: string | Buffer, headers: Record<string, string> = { ...json, ...agentAuth }): Case => ({
    kind,
    method: 'POST',
    url: INGEST_PATH,
    headers,
    payload,
  });
  switch (g.int(17)) {
    case 0:
      return post('random-bytes', g.bytes(g.int(2000)));
    case 1: {
      const text = JSON.stringify(validBatch(g));
      return post('truncated-json', text.slice(0, g.int(text.length)));
    }
    case 2: {
      const depth = g.pick([100, 1000, 10_000, 100_000]);
      const [open, close] = g.pick([['[', ']'], ['{"a":', '}'], ['{"samples":[', ']}']] as const);
      const nested = open.repeat(depth) + (g.bool() ? '1' + close.repeat(depth) : '');
      if (g.bool()) return post('deep-json', nested);
      // Deep inside an otherwise valid batch.
      const text = JSON.stringify({ ...validBatch(g), samples: '__HOLE__' }).replace('"__HOLE__"', nested.length > 200_000 ? '[]' : nested);
      return post('deep-json-in-batch', text);
    }
    case 3: {
      const b = validBatch(g);
      const path = g.pick(paths(b));
      setAt(b, path, 'x'.repeat(g.pick([100, 10_000, 100_000, 200_000, 300_000])));
      return post('huge-string', JSON.stringify(b));
    }
    case 4:
    case 5: {
      const b = validBatch(g);
      const path = g.pick(paths(b));
      if (g.bool(0.15)) setAt(b, path, undefined, true);
      else setAt(b, path, g.value());
      return post(`wrong-type ${path.join('.')}`, JSON.stringify(b));
    }
    case 6: {
      const text = JSON.stringify(validBatch(g));
      const spelled = g.pick(NUMBER_SPELLINGS);
      return post(`spelled-number ${spelled}`, text.replace(/(:)(-?\d+(?:\.\d+)?)/, `$1${spelled}`));
    }
    case 7: {
      const text = JSON.stringify(validBatch(g));
      const field = g.pick(['ts', 'sent_at', 'seq', 'power_w', 'wire_version', 'outbox_depth']);
      const big = g.pick(BIG_NUMBERS);
      return post(`big-number ${field}=${big}`, text.replace(new RegExp(`("${field}":)(-?[\\d.e+]+)`), `$1${big}`));
    }
    case 8: {
      const b = validBatch(g);
      const t = g.pick(TIMESTAMPS);
      if (g.bool()) b.sent_at = t;
      else setAt(b, ['samples', 0, 'ts'], t);
      return post(`timestamp ${t}`, JSON.stringify(b));
    }
    case 9: {
      const b = validBatch(g);
      const targets: Array<Array<string | number>> = [[], ['samples', 0], ['samples', 0, 'readings']];
      if (b.agent_status !== undefined) targets.push(['agent_status']);
      const target = g.pick(targets);
      const key = g.pick(['extra', '__proto__', 'constructor', 'prototype', 'status', 'time', 'Power_W', '', g.str(6)]);
      const text = JSON.stringify(b);
      // Added in the text so that `__proto__` reaches the parser as a key.
      const inject = `"${key.replace(/["\\]/g, '')}":${JSON.stringify(g.value(1)) ?? 'null'},`;
      const marker = target.length === 0 ? '{' : target.length === 2 ? '"samples":[{' : target[0] === 'agent_status' ? '"agent_status":{' : '"readings":{';
      return post(`unknown-property ${target.join('.')}.${key}`, text.replace(marker, marker + inject));
    }
    case 10:
      return post('content-type', JSON.stringify(validBatch(g)), { ...agentAuth, 'content-type': g.pick(CONTENT_TYPES) });
    case 11: {
      const size = BODY_LIMIT + 1 + g.int(BODY_LIMIT);
      return post('oversized', g.bool() ? `{"x":"${'a'.repeat(size)}"}` : Buffer.alloc(size, 0x20), { ...agentAuth, 'content-type': g.pick(['application/json', 'text/csv']) });
    }
    case 12:
    case 13: {
      const route = g.pick(GET_ROUTES);
      return { kind: 'query', method: g.bool(0.9) ? 'GET' : 'HEAD', url: route.url(g) + query(g, route.keys), headers: g.bool(0.2) ? { authorization: g.pick(BAD_AUTH) } : {} };
    }
    case 14: {
      const b = validBatch(g);
      const which = g.int(3);
      if (which === 0) return post('bad-auth ingest', JSON.stringify(b), { ...json, authorization: g.pick(BAD_AUTH) });
      if (which === 1) return post('no-auth ingest', JSON.stringify(b), json);
      return {
        kind: 'bad-auth admin',
        method: g.pick(['PATCH', 'POST', 'DELETE']),
        url: g.pick(['/api/v1/registry/MS-1', '/api/v1/bookings', '/api/v1/bookings/1']),
        headers: { ...json, authorization: g.pick(BAD_AUTH) },
        payload: JSON.stringify(g.value()),
      };
    }
    case 15:
      return { kind: 'traversal', method: g.pick(['GET', 'GET', 'HEAD', 'POST', 'DELETE']), url: g.pick(TRAVERSALS), headers: {} };
    default: {
      // Admin writes with random bodies, and random methods on known routes.
      const which = g.int(7);
      if (which === 4) {
        // Nearly valid bookings: one field at an edge.
        const booking = (): Record<string, unknown> => ({
          instrument_id: g.pick(['MS-1', 'XRD-2', 'NOPE', '']),
          start: g.bool(0.6) ? T0 : g.pick([...TIMESTAMPS, 1e308, -0.5]),
          end: g.bool(0.6) ? T0 + 3_600_000 : g.pick([...TIMESTAMPS, 1e308, T0]),
          user: g.pick(['张三', 'u', 'x'.repeat(200), 'x'.repeat(201), '']),
          organisation: g.pick(['Lab', 'Company 有限公司', '']),
          kind: g.pick(['internal', 'external', 'other']),
          ...(g.bool(0.5) ? { fee_cny: g.pick([0, 1e9, 1e9 + 1, -1, 1.5, 1e308]) } : {}),
          ...(g.bool(0.5) ? { samples: g.pick([0, 1e9, 1e9 + 1, -1, 1.5]) } : {}),
          ...(g.bool(0.3) ? { purpose: g.str(20) } : {}),
        });
        return { kind: 'admin bookings edge', method: 'POST', url: '/api/v1/bookings', headers: { ...json, ...adminAuth }, payload: JSON.stringify({ bookings: Array.from({ length: 1 + g.int(3) }, booking) }) };
      }
      if (which === 5) {
        // Nearly valid registry changes: known fields with edge values.
        const patch: Record<string, unknown> = {};
        for (let n = 1 + g.int(3); n > 0; n--) {
          const field = g.pick(['name', 'name_en', 'model', 'category_code', 'original_value_cny', 'shared', 'agent', 'annual', 'lab']);
          patch[field] =
            field === 'annual'
              ? [{ year: g.pick([1999, 2000, 2025, 2100, 2101, 2025.5]), ...(g.bool() ? { service_income_cny: g.pick([0, 1e11, 1e11 + 1, -1, 1e308]) } : {}), ...(g.bool() ? { trained_users: g.pick([0, 1e6, 1e6 + 1, 1.5]) } : {}) }]
              : g.pick([null, '', 'x', 'x'.repeat(129), 'x'.repeat(201), 0, 1e11, 1e11 + 1, -1, 1e308, true, 'MS-1', '../x', '机时']);
        }
        return { kind: 'admin patch edge', method: 'PATCH', url: `/api/v1/registry/${g.pick(['MS-1', 'XRD-2'])}`, headers: { ...json, ...adminAuth }, payload: JSON.stringify(patch) };
      }
      if (which === 6) {
        // A valid batch whose agent_status has edge values.
        const b = validBatch(g);
        const big = g.pick([0, 2 ** 31, 2 ** 53 - 1, 2 ** 53 + 2, 1e308, -1, 1.5]);
        const field = g.pick(['started_at', 'outbox_depth', 'outbox_oldest_ts', 'dropped_samples', 'lost_samples', 'device_errors', 'uplink_failures']);
        b.agent_status = {
          ...healthyStatus(),
          failing_instruments: g.bool(0.3) ? Array.from({ length: g.pick([1, 1000, 1001]) }, (_, i) => `I-${i}`) : [],
          [field]: big,
        };
        return post(`agent-status ${field}=${big}`, JSON.stringify(b));
      }
      if (which === 0) {
        return { kind: 'admin patch', method: 'PATCH', url: `/api/v1/registry/${g.pick(['MS-1', 'NOPE', idLike(g)])}`, headers: { ...json, ...adminAuth }, payload: JSON.stringify(g.value()) };
      }
      if (which === 1) {
        const csv = g.bool();
        const payload = csv
          ? `instrument_id,start,end,user,organisation,kind\n${Array.from({ length: 1 + g.int(3) }, () => [g.pick(['MS-1', 'X', '']), g.pick(['2025-03-01 09:00', 'yesterday', '']), g.pick(['2025-03-01 10:00', '1e309']), g.str(5).replace(/[\n,]/g, ''), 'Lab', g.pick(['internal', 'external', 'other'])].join(',')).join('\n')}`
          : JSON.stringify(g.bool() ? { bookings: [g.value()] } : g.value());
        return { kind: 'admin bookings', method: 'POST', url: '/api/v1/bookings', headers: { ...adminAuth, 'content-type': csv ? 'text/csv' : 'application/json' }, payload };
      }
      if (which === 2) {
        return { kind: 'admin delete', method: 'DELETE', url: `/api/v1/bookings/${g.pick(['1', '-1', '1.5', 'abc', '1e309', '99999999999999999999', idLike(g)])}`, headers: adminAuth };
      }
      const route = g.pick([...GET_ROUTES.map((r) => r.url(g)), INGEST_PATH, '/api/v1/bookings', '/api/v1/events']);
      return { kind: 'method', method: g.pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'POST', 'TRACE']), url: route, headers: g.bool() ? json : {}, payload: g.bool() ? JSON.stringify(g.value()) : undefined } as Case;
    }
  }
}

/** Past findings, sent before every run (a fuzz corpus): each once answered 500 or 503. */
function corpus(): Case[] {
  const g = new Gen(1);
  const ingestWith = (kind: string, edit: (b: Record<string, unknown>) => void): Case => {
    const b = validBatch(g);
    edit(b);
    return { kind: `corpus ${kind}`, method: 'POST', url: INGEST_PATH, headers: { ...json, ...agentAuth }, payload: JSON.stringify(b) };
  };
  const sampleTs = (ts: number) => (b: Record<string, unknown>) => setAt(b, ['samples', 0, 'ts'], ts);
  return [
    // A sample time past the largest Date (8.64e15 ms) made the time check's message throw (500).
    ingestWith('ts=8.64e15+1', sampleTs(8.64e15 + 1)),
    ingestWith('ts=2^53', sampleTs(2 ** 53)),
    ingestWith('ts=1e308', sampleTs(1e308)),
    ingestWith('sent_at=1e308', (b) => (b.sent_at = 1e308)),
    // A seq over 2^63 cannot go into SQLite's INTEGER column: it was answered 503 (agents retry it forever).
    ingestWith('seq=1e308', (b) => (b.seq = 1e308)),
    ingestWith('seq=2^64', (b) => (b.seq = 2 ** 64)),
    // Day 9999-12-31 + 1 is no YYYY-MM-DD day: the ranges' end threw (500).
    ...['/api/v1/bookings?to=9999-12-31', '/api/v1/sessions?from=9999-12-30&to=9999-12-31', '/api/v1/utilization?from=9999-12-30&to=9999-12-31', '/api/v1/instruments/MS-1/calibration?to=9999-12-31'].map(
      (url): Case => ({ kind: 'corpus day 9999-12-31', method: 'GET', url, headers: {} }),
    ),
    // The calibration range's default start was computed from `to` before `to` was checked (500).
    { kind: 'corpus calibration to=2025-02-30', method: 'GET', url: '/api/v1/instruments/MS-1/calibration?to=2025-02-30', headers: {} },
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Checks

/** What is wrong with an answer, or undefined when it is acceptable. */
function problem(c: Case, a: Answer): string | undefined {
  if (a.statusCode >= 200 && a.statusCode < 300) return undefined;
  if (a.statusCode >= 500) return `status ${a.statusCode}: ${a.body.slice(0, 300)}`;
  if (a.statusCode < 400) return `status ${a.statusCode}`;
  if (c.method === 'HEAD') return a.body === '' ? undefined : 'HEAD answer with a body';
  if (!(a.contentType ?? '').startsWith('application/json')) return `status ${a.statusCode} with content type ${a.contentType}`;
  let body: unknown;
  try {
    body = JSON.parse(a.body);
  } catch {
    return `status ${a.statusCode} with a body that is not JSON: ${a.body.slice(0, 200)}`;
  }
  const b = body as { code?: unknown; message?: unknown; statusCode?: unknown; errors?: unknown };
  // Documented: a bookings import of which no record was good answers 422 with the records' errors (docs/sharing.md).
  if (a.statusCode === 422 && c.method === 'POST' && c.url === '/api/v1/bookings' && Array.isArray(b.errors)) return undefined;
  if (typeof b.code !== 'string' || !Object.hasOwn(ERRORS, b.code)) return `status ${a.statusCode} with code ${JSON.stringify(b.code)}: ${a.body.slice(0, 200)}`;
  if (typeof b.message !== 'string') return `no message: ${a.body.slice(0, 200)}`;
  if (b.statusCode !== a.statusCode || ERRORS[b.code as keyof typeof ERRORS].status !== a.statusCode) {
    return `status ${a.statusCode} but body ${JSON.stringify({ statusCode: b.statusCode, code: b.code })}`;
  }
  return undefined;
}

function describeCase(c: Case): string {
  const p = c.payload === undefined ? '' : ` body[${c.payload.length}] ${JSON.stringify(c.payload.toString().slice(0, 120))}`;
  return `${c.kind}: ${c.method} ${c.url.slice(0, 150)} ${JSON.stringify(c.headers).slice(0, 150)}${p}`;
}

let gcFn: (() => void) | undefined;
function heapAfterGc(): number {
  if (gcFn === undefined) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  for (let i = 0; i < 3; i++) gcFn();
  return process.memoryUsage().heapUsed;
}

// ---------------------------------------------------------------------------------------------------------------

describe('fuzzing the collector API', () => {
  let store: Store;
  let app: CollectorApp;
  const codes = new Map<string, number>();
  const problems: string[] = [];

  beforeAll(async () => {
    store = openSqliteStore(':memory:');
    store.upsertAgent('lab-pc-1', sha256Hex(AGENT_TOKEN));
    const clock = new ManualClock(T0 + 1000);
    const engine = new EngineRunner({ store: store.engine, params: () => resolveParams({}), timeZone: DEFAULT_TIME_ZONE, clock, logger: silentLogger() });
    app = buildApp({
      store,
      clock,
      engine,
      bodyLimit: BODY_LIMIT,
      registry: [{ id: 'MS-1', name: 'Orbitrap' }, { id: 'XRD-2' }],
      sharing: { admins: [{ id: 'admin', tokenSha256: sha256Hex(ADMIN_TOKEN) }] },
      // Failed authentications are many here: no limit, so that later requests reach the deeper checks.
      access: { authFailuresPerMinute: 1_000_000_000 },
    });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    store.close();
  });

  async function round(seed: number, n: number, tag: string): Promise<void> {
    const g = new Gen(seed);
    const first = corpus();
    for (let i = 0; i < n; i++) {
      const c = first[i] ?? fuzzCase(g);
      const res = await app.inject({ method: c.method as 'GET', url: c.url, headers: c.headers, ...(c.payload === undefined ? {} : { payload: c.payload }) });
      const answer: Answer = { statusCode: res.statusCode, contentType: res.headers['content-type'] as string | undefined, body: res.body };
      const p = problem(c, answer);
      if (p !== undefined) problems.push(`${tag}/${i} ${describeCase(c)} -> ${p}`);
      const code = res.statusCode >= 400 && c.method !== 'HEAD' ? ((JSON.parse(res.body) as { code?: string }).code ?? String(res.statusCode)) : String(res.statusCode);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
  }

  it('answers thousands of malformed requests with catalog errors, never 5xx, with a flat heap', async () => {
    await round(SEED + 1, ROUND_SIZE, 'r1');
    const heap1 = heapAfterGc();
    await round(SEED + 2, ROUND_SIZE, 'r2');
    const heap2 = heapAfterGc();
    expect(problems.slice(0, 20), `${problems.length} bad answers`).toEqual([]);
    // The fuzz reached every layer: parser, schema, auth, routing, size and media-type checks.
    for (const code of ['JISHI_ERR_MALFORMED_JSON', 'JISHI_ERR_VALIDATION', 'JISHI_ERR_UNAUTHORIZED', 'JISHI_ERR_NOT_FOUND', 'JISHI_ERR_BODY_TOO_LARGE', 'JISHI_ERR_UNSUPPORTED_MEDIA_TYPE']) {
      expect(codes.get(code) ?? 0, code).toBeGreaterThan(0);
    }
    expect(codes.get('200') ?? 0).toBeGreaterThan(0);
    // A second round of the same size keeps nothing: within generous slack.
    expect(heap2 - heap1).toBeLessThan(20 * 1024 * 1024);
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
    // The metrics kept a bounded label set through it all (unmatched paths share one label value).
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body.split('\n').filter((l) => l.startsWith('jishi_http_requests_total')).length).toBeLessThan(400);
    if (process.env.JISHI_FUZZ_SEED !== undefined) console.log(Object.fromEntries([...codes].sort((a, b) => b[1] - a[1])));
  }, FUZZ_TIMEOUT_MS);

  it('answers malformed requests on a real socket the same way', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const g = new Gen(SEED + 3);
    const socketProblems: string[] = [];
    let answered = 0;
    for (let i = 0; i < SOCKET_CASES; i++) {
      const c = fuzzCase(g);
      const answer = await new Promise<Answer | Error>((resolve) => {
        let req;
        try {
          req = httpRequest({ host: '127.0.0.1', port, method: c.method, path: c.url, headers: { ...c.headers, connection: 'close' }, agent: false });
        } catch (err) {
          // The client refused to send it (e.g. a character Node will not put in a path or header).
          resolve(err as Error);
          return;
        }
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, contentType: res.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (err) => resolve(err));
        });
        // The server may answer (413) and close before the whole body was sent.
        req.on('error', (err) => resolve(err));
        req.end(c.payload);
      });
      if (answer instanceof Error) continue;
      answered++;
      const p = problem(c, answer);
      if (p !== undefined) socketProblems.push(`socket/${i} ${describeCase(c)} -> ${p}`);
    }
    expect(socketProblems.slice(0, 20), `${socketProblems.length} bad answers`).toEqual([]);
    expect(answered).toBeGreaterThan(SOCKET_CASES / 2);

    // Raw HTTP that Node cannot parse, or that breaks the rules: answered with an ErrorBody, then closed.
    const raw: Array<[string, string | Buffer, number | undefined]> = [
      ['garbage request line', 'GARBAGE\r\n\r\n', 400],
      ['binary', new Gen(7).bytes(300), 400],
      ['unknown HTTP version', 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n', undefined],
      ['header without colon', 'GET /healthz HTTP/1.1\r\nHost: x\r\nBroken header\r\n\r\n', 400],
      ['bad content-length', 'POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 400],
      ['two content-lengths', 'POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400],
      ['te and cl (smuggling)', 'POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
      ['bad chunk size', `POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n`, 400],
      ['header overflow', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
      ['null byte in path', 'GET /heal\u0000thz HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      ['space in path', 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      ['bare LF', 'GET /healthz HTTP/1.1\nHost: x\n\n', undefined],
      ['absolute-form traversal', 'GET http://x/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', undefined],
      ['unknown method', 'BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      ['bad percent path', 'GET /api/v1/registry/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 400],
      ['truncated body', `POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"wire_version":1`, undefined],
      ['control char in header', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\u0001b\r\n\r\n', 400],
      ['pipelined junk after a good request', 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nJUNK\r\n\r\n', undefined],
    ];
    for (let i = 0; i < 40; i++) raw.push([`random ${i}`, g.bytes(1 + g.int(500)), undefined]);
    for (const [name, bytes, expected] of raw) {
      const text = await new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => socket.end(bytes));
        const chunks: Buffer[] = [];
        const guard = setTimeout(() => socket.destroy(), 5000);
        socket.on('data', (d: Buffer) => chunks.push(d));
        socket.on('error', () => undefined);
        socket.on('close', () => {
          clearTimeout(guard);
          resolve(Buffer.concat(chunks).toString('latin1'));
        });
      });
      // Every answer on the connection (a pipelined good request may come first).
      const answers = [...text.matchAll(/HTTP\/1\.1 (\d{3}) [^\r]*\r\n((?:[^\r]+\r\n)*)\r\n/g)];
      if (expected !== undefined) expect(answers.map((m) => Number(m[1])), name).toContain(expected);
      for (const m of answers) {
        const status = Number(m[1]);
        expect(status, `${name}: ${text.slice(0, 200)}`).toBeLessThan(500);
        if (status < 400) continue;
        const length = Number(/content-length: (\d+)/i.exec(m[2]!)?.[1] ?? 0);
        const start = m.index + m[0].length;
        const body = JSON.parse(Buffer.from(text.slice(start, start + length), 'latin1').toString('utf8')) as { code?: string };
        expect(Object.keys(ERRORS), `${name}: ${text.slice(0, 300)}`).toContain(body.code);
      }
    }

    // Still alive and well, over the socket too.
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
  }, FUZZ_TIMEOUT_MS);
});
