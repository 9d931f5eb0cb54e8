/**
 * The built-in web console (issue #10), for labs without Grafana:
 *
 *   GET /              the console (collector/web/public/index.html; pages are `#/`, `#/instrument/<id>`, `#/year/<y>`)
 *   GET /web/<file>    its scripts, styles and icons: plain ES modules and CSS, no build step, nothing from a CDN
 *
 * plus the JSON it needs besides the read API: the live feed (events.ts) and the instrument detail
 * (instrument-detail.ts). Only the files present in collector/web/public when the app is built are served (a
 * fixed list, so no path can leave the directory), with their content type, `nosniff`, and a strict
 * Content-Security-Policy on the page (same origin only, no inline script or style).
 */
import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyReply } from 'fastify';
import type { Clock } from '../../common/clock.ts';
import { JishiError } from '../../common/errors.ts';
import { projectRoot } from '../../common/project-root.ts';
import type { CollectorApp } from '../app.ts';
import type { EngineRunner } from '../engine-runner.ts';
import type { EngineParams } from '../engine/types.ts';
import { registerEventsRoutes } from './events.ts';
import { registerInstrumentDetailRoutes } from './instrument-detail.ts';

/** The console's files: collector/web/public (found from the project root: this code may run bundled). */
export const WEB_ROOT = join(projectRoot(), 'collector', 'web', 'public');
export const WEB_PREFIX = '/web/';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** The page may load and fetch from its own origin only; no inline code, no framing. */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Every servable file under `root`, by its path relative to it with `/` separators. */
export function listWebFiles(root: string = WEB_ROOT): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (name.startsWith('.')) continue;
      const path = join(dir, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else if (st.isFile() && CONTENT_TYPES[extname(name).toLowerCase()] !== undefined) {
        files.set(relative(root, path).split(sep).join('/'), path);
      }
    }
  };
  walk(root);
  return files;
}

export interface WebConsoleOptions {
  clock: Clock;
  engine: EngineRunner;
  /** The configured instruments (names; the collector config's entries also carry their engine `params`). */
  instruments: ReadonlyArray<{ id: string; name?: string; params?: EngineParams }>;
  /** Directory of the console's files (default collector/web/public). */
  root?: string;
}

/** Registers the console page, its files, the live feed and the instrument detail routes. */
export function registerWebConsole(app: CollectorApp, options: WebConsoleOptions): void {
  const files = listWebFiles(options.root ?? WEB_ROOT);
  registerEventsRoutes(app, { clock: options.clock, engine: options.engine, instruments: options.instruments });
  registerInstrumentDetailRoutes(app, { clock: options.clock, engine: options.engine, instruments: options.instruments });

  const send = async (name: string, reply: FastifyReply): Promise<Buffer> => {
    const path = files.get(name);
    if (path === undefined) throw new JishiError('JISHI_ERR_NOT_FOUND', `no console file ${JSON.stringify(name)}`);
    const body = await readFile(path);
    const type = CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
    void reply
      .type(type)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer');
    if (type.startsWith('text/html')) void reply.header('content-security-policy', CONSOLE_CSP).header('x-frame-options', 'DENY');
    return body;
  };

  app.get('/', { schema: { summary: 'The web console (HTML page)', tags: ['console'] } }, async (_request, reply) => send('index.html', reply));
  app.get<{ Params: { '*': string } }>(
    `${WEB_PREFIX}*`,
    { schema: { summary: "The web console's scripts, styles and icons", tags: ['console'] } },
    async (request, reply) => send(request.params['*'], reply),
  );
}
