/**
 * bin/jishi.mjs and its bundle cache (bin/bundle.mjs), on a temporary copy of the project (the sources copied,
 * node_modules linked; the cache in the copy through JISHI_BUNDLE_DIR), so that no test touches the real sources or
 * the real cache: built on the first start, reused while nothing changed, rebuilt when a source changes, safe when
 * many processes start at once, and the fallback to tsx.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../common/net.ts';
import { until } from './helpers/wait.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** What bin/jishi.mjs needs of the project (the sources it bundles, package.json for the version and the root). */
const COPIED = ['bin', 'cli', 'agent', 'collector', 'common', 'devices', 'package.json', 'tsconfig.json'];
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

let copy: string;
let seq = 0;

beforeAll(() => {
  copy = mkdtempSync(join(tmpdir(), 'jishi-bin-'));
  for (const f of COPIED) cpSync(join(ROOT, f), join(copy, f), { recursive: true, preserveTimestamps: true });
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'), 'junction');
});
afterAll(() => {
  rmSync(copy, { recursive: true, force: true });
});

/** A cache directory of its own for one test, relative to the copy (as JISHI_BUNDLE_DIR takes it). */
function freshCache(): string {
  return `.cache-${++seq}`;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function jishi(args: readonly string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [join(copy, 'bin', 'jishi.mjs'), ...args], {
    cwd: copy,
    encoding: 'utf8',
    env: { ...process.env, JISHI_NO_BUNDLE: '', JISHI_DEBUG: '', ...env },
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function jishiAsync(args: readonly string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(copy, 'bin', 'jishi.mjs'), ...args], { cwd: copy, env: { ...process.env, JISHI_NO_BUNDLE: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Manifest {
  entry: string;
  inputs: Array<[string, number, number]>;
}

function manifest(cache: string): Manifest {
  return JSON.parse(readFileSync(join(copy, cache, 'manifest.json'), 'utf8')) as Manifest;
}

function builds(cache: string): string[] {
  return readdirSync(join(copy, cache)).filter((n) => n !== 'manifest.json').sort();
}

/** Edits a file of the copy and dates it 10 s back (a saved file, not one still being written). */
function edit(file: string, change: (text: string) => string): void {
  const path = join(copy, file);
  writeFileSync(path, change(readFileSync(path, 'utf8')));
  const past = new Date(Date.now() - 10_000);
  utimesSync(path, past, past);
}

describe('the bundle cache', () => {
  it('is built on the first start and reused while no source changes', () => {
    const cache = freshCache();
    const first = jishi(['--version'], { JISHI_BUNDLE_DIR: cache });
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout.trim()).toBe(VERSION);
    const m = manifest(cache);
    expect(m.entry).toMatch(/^b-[0-9a-f]{16}\/main\.mjs$/);
    expect(existsSync(join(copy, cache, m.entry))).toBe(true);
    // Every source the CLI imports is an input, and the builder itself; of the packages, only the bundled-in TypeBox
    // (the others stay imports, resolved at run time).
    const inputs = m.inputs.map(([f]) => f);
    expect(inputs).toEqual(expect.arrayContaining(['bin/bundle.mjs', 'cli/main.ts', 'cli/agent-command.ts', 'agent/agent.ts', 'collector/server.ts', 'package.json']));
    const packages = new Set(inputs.flatMap((f) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.[1] ?? []));
    expect([...packages]).toEqual(['@sinclair/typebox']);
    for (const [f, size] of m.inputs) expect(statSync(join(copy, f)).size, f).toBe(size);

    const written = statSync(join(copy, cache, 'manifest.json')).mtimeMs;
    const again = jishi(['--version'], { JISHI_BUNDLE_DIR: cache });
    expect(again).toMatchObject({ code: 0, stderr: '' });
    expect(again.stdout.trim()).toBe(VERSION);
    expect(statSync(join(copy, cache, 'manifest.json')).mtimeMs).toBe(written);
    expect(builds(cache)).toEqual([m.entry.split('/')[0]]);
  });

  it('is rebuilt when a source changes, and the change shows', () => {
    const cache = freshCache();
    expect(jishi(['--help'], { JISHI_BUNDLE_DIR: cache }).stdout).toContain('Start here:');
    const before = manifest(cache).entry;
    edit('cli/main.ts', (t) => t.replace("'\\nStart here:", "'\\nStart right here:"));
    const help = jishi(['--help'], { JISHI_BUNDLE_DIR: cache });
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toContain('Start right here:');
    const after = manifest(cache).entry;
    expect(after).not.toBe(before);
    // The previous build is kept for a while (a process may still be starting from it), then removed.
    expect(builds(cache)).toEqual([before.split('/')[0], after.split('/')[0]].sort());
    // The version comes from package.json, which is an input too.
    edit('package.json', (t) => t.replace(`"version": "${VERSION}"`, '"version": "9.9.9"'));
    expect(jishi(['--version'], { JISHI_BUNDLE_DIR: cache }).stdout.trim()).toBe('9.9.9');
    edit('package.json', (t) => t.replace('"version": "9.9.9"', `"version": "${VERSION}"`));
    edit('cli/main.ts', (t) => t.replace("'\\nStart right here:", "'\\nStart here:"));
    expect(jishi(['--version'], { JISHI_BUNDLE_DIR: cache }).stdout.trim()).toBe(VERSION);
  });

  it('is built once and read whole when many processes start together on an empty cache', async () => {
    const cache = freshCache();
    const runs = await Promise.all(Array.from({ length: 6 }, () => jishiAsync(['--version'], { JISHI_BUNDLE_DIR: cache })));
    for (const r of runs) expect(r).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    // The same sources make the same build: one directory, no temporary leftovers.
    expect(builds(cache)).toEqual([manifest(cache).entry.split('/')[0]]);
  }, 60_000);

  it('maps stack traces to the TypeScript sources with JISHI_DEBUG=1', () => {
    const r = jishi(['export', 'annual', '--year', '2025', '--format', 'bogus', '--out', 'x'], { JISHI_BUNDLE_DIR: freshCache(), JISHI_DEBUG: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--format must be one of');
    expect(r.stderr).toMatch(/cli[\\/]main\.ts:\d+:\d+/);
  });

  it('serves the web console and reports the version from the bundled collector (files found from the project root)', async () => {
    const cache = freshCache();
    const port = await freePort();
    const data = join(copy, `data-${seq}`);
    const child = spawn(process.execPath, [join(copy, 'bin', 'jishi.mjs'), 'collector', '--port', String(port), '--data', data, '--log-level', 'warn'], {
      cwd: copy,
      env: { ...process.env, JISHI_NO_BUNDLE: '', JISHI_BUNDLE_DIR: cache },
      stdio: 'ignore',
    });
    try {
      const page = await until('the console page', async () => {
        const res = await fetch(`http://127.0.0.1:${port}/`);
        return res.status === 200 ? res : undefined;
      }, 20_000);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(await page.text()).toMatch(/<html/i);
      const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { version?: string };
      expect(health.version).toBe(VERSION);
      expect(existsSync(join(copy, cache, 'manifest.json'))).toBe(true);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 40_000);
});

describe('jishi agent', () => {
  it('starts without a word on stderr (its V8 setting is accepted), through the bundle and through tsx', () => {
    const file = join(copy, 'agent-check.yaml');
    writeFileSync(file, 'agent: {id: lab-pc-1}\ncollector: {url: "http://127.0.0.1:8080", token: "0123456789abcdef"}\ninstruments:\n  - {id: FCM-1, profile: eastron-sdm120, transport: "modbus-tcp://192.0.2.10:502?unit=3"}\n');
    for (const env of [{ JISHI_BUNDLE_DIR: freshCache() }, { JISHI_NO_BUNDLE: '1' }] as Array<Record<string, string>>) {
      const r = jishi(['agent', '--config', file, '--check'], env);
      expect(r, JSON.stringify(env)).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toContain('config OK');
    }
  });
});

describe('the fallback to tsx', () => {
  it('runs the sources through tsx, silently, when the cache directory cannot be written', () => {
    // A directory under a regular file cannot be made, not even by root.
    const r = jishi(['--version'], { JISHI_BUNDLE_DIR: 'package.json/cache' });
    expect(r).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    const debug = jishi(['--version'], { JISHI_BUNDLE_DIR: 'package.json/cache', JISHI_DEBUG: '1' });
    expect(debug.stdout.trim()).toBe(VERSION);
    expect(debug.stderr).toMatch(/^jishi: no bundle: the cache directory .* cannot be written \(ENOTDIR\); running the sources through tsx\n$/);
  });

  it('runs the sources through tsx when JISHI_NO_BUNDLE=1, and writes no cache', () => {
    const cache = freshCache();
    const r = jishi(['--version'], { JISHI_BUNDLE_DIR: cache, JISHI_NO_BUNDLE: '1' });
    expect(r).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    expect(existsSync(join(copy, cache))).toBe(false);
  });

  it('says so in one line when esbuild cannot bundle the sources, and still runs them', () => {
    const cache = freshCache();
    // An import esbuild cannot resolve, on a path that never runs: tsx is fine with it, the bundler is not.
    edit('cli/options.ts', (t) => `${t}\nexport async function neverCalled(): Promise<unknown> {\n  return import('./no-such-file.ts');\n}\n`);
    try {
      const r = jishi(['--version'], { JISHI_BUNDLE_DIR: cache });
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(VERSION);
      expect(r.stderr).toMatch(/^jishi: esbuild could not bundle cli\/main\.ts: cli\/options\.ts:\d+: Could not resolve "\.\/no-such-file\.ts"; running the sources through tsx\n$/);
      expect(existsSync(join(copy, cache, 'manifest.json'))).toBe(false);
    } finally {
      edit('cli/options.ts', (t) => t.slice(0, t.indexOf('\nexport async function neverCalled')));
    }
  });
});
