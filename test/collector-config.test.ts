import { DEFAULT_ENGINE_PARAMS } from '../collector/engine/params.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.ts';
import { collectorConfigFromObject, loadCollectorConfig, parseCollectorConfig } from '../collector/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'jishi-collector-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HASH = 'ab'.repeat(32);

describe('collector config', () => {
  it('applies the documented defaults to an empty file', () => {
    const config = parseCollectorConfig('', join(dir, 'empty.yaml'));
    expect(config).toEqual({
      source: join(dir, 'empty.yaml'),
      listen: { host: '127.0.0.1', port: 8080 },
      dataDir: join(dir, 'jishi-data'),
      storePath: join(dir, 'jishi-data', 'jishi.sqlite'),
      agents: [],
      admins: [],
      largeInstrumentThresholdCny: 500_000,
      viewers: [],
      readAccess: 'open',
      unknownInstruments: 'accept',
      limits: { maxConcurrentIngest: 32, retryAfterS: 5, authFailuresPerMinute: 30, maxFutureMs: 300_000, maxPastMs: 400 * 86_400_000 },
      trustProxy: false,
      instruments: [],
      defaultParams: DEFAULT_ENGINE_PARAMS,
      timeZone: 'Asia/Shanghai',
      ratedHours: 1400,
      clockSkewThresholdMs: 2000,
      maxGapMs: 900_000,
      logLevel: 'info',
    });
  });

  it('resolves a full file', async () => {
    const file = join(dir, 'full.yaml');
    writeFileSync(
      file,
      [
        'listen: { host: 0.0.0.0, port: 0 }',
        'data_dir: /var/lib/jishi',
        'influx: { url: "http://127.0.0.1:8086/", username: jishi, password: secret }',
        'agents:',
        `  - { id: lab-pc-1, token_sha256: ${HASH.toUpperCase()} }`,
        'instruments:',
        '  - { id: MS-1, name: 质谱仪, off_w: 100, active_w: 2200, min_dwell_s: 60, rated_hours: 800, commissioned: 2025-07-01 }',
        '  - { id: FCM-1, status_states: [{ match: "^RUN", state: active }], model: FACSCanto II, original_value_cny: 1800000, shared: false, annual: [{ year: 2025, trained_users: 9 }] }',
        'admins:',
        `  - { id: asset-office, token_sha256: ${'cd'.repeat(32)} }`,
        'large_instrument_threshold_cny: 400000',
        'read_access: token',
        `viewers: [{ id: dean, token_sha256: ${'ef'.repeat(32)} }]`,
        'unknown_instruments: reject',
        'limits: { max_concurrent_ingest: 4, retry_after_s: 9, auth_failures_per_minute: 10, max_future_s: 60, max_past_days: 30 }',
        'tls: { cert: tls/cert.pem, key: /etc/jishi/key.pem }',
        'trust_proxy: 127.0.0.1',
        'max_gap_s: 300',
        'timezone: Europe/Berlin',
        'rated_hours: 1200',
        'clock_skew_threshold_s: 30',
        'log_level: debug',
      ].join('\n'),
    );
    expect(await loadCollectorConfig(file)).toEqual({
      source: file,
      listen: { host: '0.0.0.0', port: 0 },
      dataDir: '/var/lib/jishi',
      storePath: '/var/lib/jishi/jishi.sqlite',
      influx: { version: 1, url: 'http://127.0.0.1:8086', database: 'jishi', username: 'jishi', password: 'secret' },
      agents: [{ id: 'lab-pc-1', tokenSha256: HASH }],
      admins: [{ id: 'asset-office', tokenSha256: 'cd'.repeat(32) }],
      largeInstrumentThresholdCny: 400_000,
      viewers: [{ id: 'dean', tokenSha256: 'ef'.repeat(32) }],
      readAccess: 'token',
      unknownInstruments: 'reject',
      limits: { maxConcurrentIngest: 4, retryAfterS: 9, authFailuresPerMinute: 10, maxFutureMs: 60_000, maxPastMs: 30 * 86_400_000 },
      tls: { cert: join(dir, 'tls', 'cert.pem'), key: '/etc/jishi/key.pem' },
      trustProxy: '127.0.0.1',
      instruments: [
        {
          id: 'MS-1',
          name: '质谱仪',
          params: { ...DEFAULT_ENGINE_PARAMS, off_w: 100, active_w: 2200, min_dwell_s: 60, max_gap_s: 300 },
          rated_hours: 800,
          commissioned: '2025-07-01',
          // Registry fields as written (rated_hours and commissioned too: the export reports them).
          asset: { name: '质谱仪', rated_hours: 800, commissioned: '2025-07-01' },
          annual: [],
        },
        {
          id: 'FCM-1',
          // The instrument's own status rules come first; the default fault-word rule stays after them.
          params: {
            ...DEFAULT_ENGINE_PARAMS,
            max_gap_s: 300,
            status_states: [{ match: '^RUN', state: 'active' }, ...DEFAULT_ENGINE_PARAMS.status_states],
          },
          rated_hours: 1200,
          asset: { model: 'FACSCanto II', original_value_cny: 1_800_000, shared: false },
          annual: [{ year: 2025, trained_users: 9 }],
        },
      ],
      defaultParams: { ...DEFAULT_ENGINE_PARAMS, max_gap_s: 300 },
      timeZone: 'Europe/Berlin',
      ratedHours: 1200,
      clockSkewThresholdMs: 30_000,
      maxGapMs: 300_000,
      logLevel: 'debug',
    });
  });

  it('reports every problem of a bad file at once, with file name, path and value', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'listen: { port: 99999, hots: x }',
        'influx: { url: "ftp://influx", password: hunter2 }',
        'agents:',
        `  - { id: lab-pc-1, token_sha256: ${HASH} }`,
        `  - { id: lab-pc-1, token_sha256: nothex }`,
        'instruments:',
        '  - { id: MS-1, off_w: 3000, active_w: 2200 }',
        '  - { id: "bad id", off_w: -5 }',
        'max_gap_s: 0',
        'log_level: loud',
      ].join('\n'),
    );
    const err = await loadCollectorConfig(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const { issues, message } = err as ConfigError;
    const at = (path: string) => issues.find((i) => i.path === path);
    expect(at('/listen/port')).toMatchObject({ value: 99999, message: 'must be between 0 and 65535' });
    expect(at('/listen/hots')).toMatchObject({ message: 'unknown key "hots"' });
    expect(at('/influx/url')).toMatchObject({ value: 'ftp://influx', message: 'must be an http: or https: URL, e.g. http://127.0.0.1:8086' });
    expect(at('/agents/1/token_sha256')).toMatchObject({ value: 'nothex' });
    expect(at('/agents/1/id')).toMatchObject({ value: 'lab-pc-1', message: 'duplicate agent id (first used by /agents/0)' });
    expect(at('/instruments/0/active_w')).toMatchObject({ instrument: 'MS-1', value: 2200 });
    expect(at('/instruments/1/id')).toMatchObject({ instrument: 'bad id', value: 'bad id' });
    expect(at('/instruments/1/off_w')).toMatchObject({ value: -5 });
    expect(at('/max_gap_s')).toMatchObject({ value: 0 });
    expect(at('/log_level')).toMatchObject({ value: 'loud', message: expect.stringContaining('must be one of fatal') });
    expect(message.startsWith(`${file}: ${issues.length} configuration errors:`)).toBe(true);
    expect(message).toContain('/listen/port: must be between 0 and 65535 (got 99999)');
    expect(message).toContain('instrument "MS-1" /instruments/0/active_w');
    expect(message).not.toContain('hunter2');
  });

  it('replaces ${VAR} in values from the environment, $${ is a literal ${, and every unset variable is listed', () => {
    const text = [
      'influx: { url: "http://${INFLUX_HOST}:8086", username: jishi, password: "${INFLUX_PASSWORD}" }',
      'instruments:',
      '  - { id: SEM-1, name: "cost $${x}" }',
    ].join('\n');
    const config = parseCollectorConfig(text, 'c.yaml', { env: { INFLUX_HOST: 'influx.lab', INFLUX_PASSWORD: 'p${w}$d' } });
    expect(config.influx).toMatchObject({ url: 'http://influx.lab:8086', username: 'jishi', password: 'p${w}$d' });
    expect(config.instruments[0]!.name).toBe('cost ${x}');
    let err: ConfigError | undefined;
    try {
      parseCollectorConfig(`${text}\nlisten: { port: 99999 }\n`, 'c.yaml', { env: {} });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const lines = err!.issues.map((i) => `${i.path}: ${i.message}`);
    expect(lines).toEqual(
      expect.arrayContaining([
        '/influx/url: environment variable INFLUX_HOST is not set',
        '/influx/password: environment variable INFLUX_PASSWORD is not set',
        '/listen/port: must be between 0 and 65535',
      ]),
    );
    expect(err!.message.startsWith('c.yaml: ')).toBe(true);
    expect(err!.message).not.toContain('INFLUX_PASSWORD}');
  });

  it('reports YAML syntax errors and unreadable files as ConfigError', async () => {
    expect(() => parseCollectorConfig('listen: [', 'broken.yaml')).toThrowError(ConfigError);
    await expect(loadCollectorConfig(join(dir, 'missing.yaml'))).rejects.toThrowError(/cannot read the file/);
  });

  it('validates objects built in code (CLI overrides, demo)', () => {
    const config = collectorConfigFromObject({ listen: { port: 0 }, data_dir: 'data' }, 'demo', { baseDir: '/tmp/x' });
    expect(config).toMatchObject({ listen: { host: '127.0.0.1', port: 0 }, dataDir: '/tmp/x/data' });
    expect(() => collectorConfigFromObject({ listen: { port: -1 } }, 'cli')).toThrowError(/cli: 1 configuration error/);
  });

  it('resolves InfluxDB 2.x and 3.x targets, and names what a version does not take or misses', () => {
    const v2 = collectorConfigFromObject({ influx: { version: 2, url: 'http://192.0.2.30:8086', token: 'tok', org: 'lab', bucket: 'jishi' } }, 'v2');
    expect(v2.influx).toEqual({ version: 2, url: 'http://192.0.2.30:8086', token: 'tok', org: 'lab', bucket: 'jishi' });
    const v3 = collectorConfigFromObject({ influx: { version: 3, url: 'http://192.0.2.31:8181', token: 'tok' } }, 'v3');
    expect(v3.influx).toEqual({ version: 3, url: 'http://192.0.2.31:8181', token: 'tok', bucket: 'jishi' });
    const bad = (() => {
      try {
        collectorConfigFromObject({ influx: { version: 2, url: 'http://192.0.2.30:8086', database: 'x', password: 'hunter2' } }, 'bad');
      } catch (err) {
        return err as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(bad.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      '/influx: InfluxDB 2 needs a token (influx.token)',
      '/influx: InfluxDB 2 needs an organization (influx.org)',
      '/influx: InfluxDB 2 needs a bucket (influx.bucket)',
      '/influx/database: applies to InfluxDB 1.x only (influx.version 2)',
      '/influx/password: applies to InfluxDB 1.x only (influx.version 2)',
    ]);
    expect(bad.message).not.toContain('hunter2');
    expect(() => collectorConfigFromObject({ influx: { url: 'http://192.0.2.30:8086', token: 'secret-token' } }, 'v1')).toThrowError(
      /\/influx\/token: applies to InfluxDB 2.x and 3.x only \(influx.version 1, the default\)/,
    );
  });
});
