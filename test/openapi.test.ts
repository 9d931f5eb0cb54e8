import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import { buildApp, type CollectorApp } from '../collector/app.ts';
import { EngineRunner } from '../collector/engine-runner.ts';
import { resolveParams } from '../collector/engine/params.ts';
import { DEFAULT_TIME_ZONE } from '../collector/engine/time-zone.ts';
import { OPENAPI_PATH, ROUTE_DOCS, WILDCARD_PARAM } from '../collector/openapi.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import type { Store } from '../collector/store/store.ts';
import { JISHI_VERSION } from '../collector/version.ts';
import { T0 } from './helpers/batches.ts';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/**
 * Every registered route as `METHOD /path/{param}`, read from app.printRoutes({ commonPrefix: false }) (a tree of
 * path segments; a child line continues its parent's path). HEAD routes Fastify adds for GET are left out.
 */
function registeredRoutes(app: CollectorApp): Set<string> {
  const routes = new Set<string>();
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:[│ ] {3}|[├└]── )*?)(?:[├└]── )?(\S+?)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (!m || line.trim() === '') continue;
    const indent = [...(line.match(/^[│├└─ ]*/u)?.[0] ?? '')].length;
    const depth = indent / 4;
    stack.length = depth;
    const parent = depth > 0 ? (stack[depth - 1] ?? '') : '';
    const segment = m[2]!;
    const path = parent.endsWith('/') && segment.startsWith('/') ? parent + segment.slice(1) : parent + segment;
    stack[depth] = path;
    for (const method of (m[3] ?? '').split(', ').filter((x) => x !== '' && x !== 'HEAD')) {
      // Fastify's `:id` and `*` are OpenAPI's `{id}` and `{path}`.
      routes.add(`${method} ${path.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, `{${WILDCARD_PARAM}}`)}`);
    }
  }
  return routes;
}

describe('GET /openapi.json', () => {
  let store: Store;
  let app: CollectorApp;
  let spec: {
    openapi: string;
    info: { title: string; version: string };
    paths: Record<string, Record<string, { operationId?: string; security?: unknown; summary?: string; tags?: string[]; parameters?: Array<{ in: string; name: string }>; requestBody?: unknown; responses: Record<string, unknown> }>>;
  };

  beforeAll(async () => {
    store = openSqliteStore(':memory:');
    const clock = new ManualClock(T0);
    const engine = new EngineRunner({ store: store.engine, params: () => resolveParams({}), timeZone: DEFAULT_TIME_ZONE, clock, logger: silentLogger() });
    app = buildApp({ store, clock, engine });
    await app.ready();
    const res = await app.inject({ method: 'GET', url: OPENAPI_PATH });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    spec = JSON.parse(res.body) as typeof spec;
  });
  afterAll(async () => {
    await app.close();
    store.close();
  });

  it('is an OpenAPI 3 document about this collector', () => {
    expect(spec.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(spec.info).toMatchObject({ title: 'jishi collector API', version: JISHI_VERSION });
  });

  it('lists every registered route, and nothing else', () => {
    const registered = registeredRoutes(app);
    // The parse itself found the routes the collector always has.
    for (const r of ['GET /healthz', 'POST /api/v1/ingest', 'GET /api/v1/registry/{id}', 'GET /metrics', 'GET /openapi.json']) expect(registered).toContain(r);
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(spec.paths)) {
      for (const method of HTTP_METHODS) {
        if (item[method] === undefined) continue;
        documented.add(`${method.toUpperCase()} ${path}`);
        // Each documented operation is a route the app has (OpenAPI {id} and {path} back to Fastify's :id and *).
        const url = path.replace(new RegExp(`\\{${WILDCARD_PARAM}\\}$`), '*').replace(/\{([^}]+)\}/g, ':$1');
        expect(app.hasRoute({ method: method.toUpperCase() as 'GET', url }), `${method} ${path}`).toBe(true);
      }
    }
    // printRoutes abbreviates wildcard paths (`/web/*` shows as `*`): those are checked by count only.
    for (const r of registered) if (!r.endsWith(`{${WILDCARD_PARAM}}`)) expect(documented, r).toContain(r);
    expect(documented.size).toBe(registered.size);
  });

  it('gives every operation a summary, tags, its parameters and responses', () => {
    for (const [path, item] of Object.entries(spec.paths)) {
      for (const method of HTTP_METHODS) {
        const op = item[method];
        if (op === undefined) continue;
        const where = `${method.toUpperCase()} ${path}`;
        expect(op.summary, where).toMatch(/\S/);
        expect(op.tags?.length, where).toBeGreaterThan(0);
        // A success answer and the error answers (ErrorBody).
        expect(Object.keys(op.responses).some((c) => c.startsWith('2')), where).toBe(true);
        expect(Object.keys(op.responses), where).toEqual(expect.arrayContaining(['4XX', '5XX']));
        expect(op.operationId, where).toMatch(/^[a-z][A-Za-z0-9]*$/);
        // Every {param} of the path is declared as a path parameter.
        for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
          expect(op.parameters?.some((p) => p.in === 'path' && p.name === name), `${where}: {${name}}`).toBe(true);
        }
      }
    }
    // Summaries come from ROUTE_DOCS unless a route's own schema has one.
    for (const key of ['GET /metrics', 'GET /openapi.json']) {
      const [method, url] = key.split(' ') as [string, string];
      expect(spec.paths[url]?.[method.toLowerCase() as 'get']?.summary, key).toBe(ROUTE_DOCS[key]!.summary);
    }
  });

  it('carries the request and response schemas of the routes', () => {
    const ingest = spec.paths['/api/v1/ingest']?.post;
    expect(ingest).toBeDefined();
    const body = (ingest!.requestBody as { content: Record<string, { schema: { properties: Record<string, unknown>; additionalProperties: boolean } }> })
      .content['application/json']!.schema;
    expect(Object.keys(body.properties)).toEqual(expect.arrayContaining(['wire_version', 'agent_id', 'batch_id', 'seq', 'sent_at', 'samples']));
    expect(body.additionalProperties).toBe(false);
    expect(Object.keys(ingest!.responses)).toEqual(expect.arrayContaining(['200', '4XX']));
    expect(JSON.stringify(ingest!.responses['4XX'])).toContain('"code"');
    expect(ingest!.security).toEqual([{ bearer: [] }]);
    const utilization = spec.paths['/api/v1/utilization']?.get;
    expect(utilization?.parameters?.filter((p) => p.in === 'query').map((p) => p.name)).toEqual(expect.arrayContaining(['from', 'to', 'instrument', 'group']));
    expect(JSON.stringify(utilization?.responses['200'])).toContain('utilization_rate');
  });

  it('is valid JSON without TypeBox internals and is stable across requests', async () => {
    const again = await app.inject({ method: 'GET', url: OPENAPI_PATH });
    expect(again.json()).toEqual(spec);
    expect(JSON.stringify(spec)).not.toMatch(/"\[object Object\]"|undefined/);
  });
});
