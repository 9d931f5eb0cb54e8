/**
 * The production stack (docker-compose.yml, Dockerfile, deploy/), checked without Docker: the compose file's
 * services, variables, mounts and commands against the repository and the real CLI; the collector config template
 * rendered and checked as the container does it; the image's files against what the CLI imports; the helper
 * scripts run for real; and the simulated lab read by a real agent into a real collector over loopback sockets.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { agentConfigFromObject } from '../agent/config.ts';
import { startAgent, type RunningAgent } from '../agent/agent.ts';
import { collectorConfigFromObject } from '../collector/config.ts';
import { startCollector, type RunningCollector } from '../collector/server.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import { silentLogger } from '../common/log.ts';
import type { InstrumentList } from '../common/wire.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../devices/simulators/mqtt-broker.ts';
import { renderConfigTemplate } from '../deploy/docker/render-config.ts';
import { substituteEnv } from '../common/env.ts';
import type { ConfigIssue } from '../common/errors.ts';
import {
  SIM_ENGINE, SIM_FLEET, SIM_HOST, SIM_MODBUS_TCP_PORT, SIM_RTU_OVER_TCP_PORT, MQTT_SERVICE_HOST, simTransport, startSimulatedLab,
  type SimulatedLab,
} from '../deploy/sim/simulate.ts';
import { until } from './helpers/wait.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/jishi.mjs');
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');

type Env = Record<string, string>;

function run(command: string, args: readonly string[], options: { env?: Env; input?: string; cwd?: string } = {}) {
  const r = spawnSync(command, args, {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...options.env },
    timeout: 60_000,
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, output: `${r.stdout}${r.stderr}` };
}
const jishi = (args: readonly string[], env: Env = {}) => run(process.execPath, [BIN, ...args], { env });

// ---- docker-compose.yml -------------------------------------------------------------------------------------------

interface HealthCheck {
  test?: string[] | string;
  disable?: boolean;
}
interface Service {
  image?: string;
  build?: unknown;
  restart?: string;
  healthcheck?: HealthCheck;
  environment?: Record<string, string> | string[];
  command?: string[];
  entrypoint?: string[];
  volumes?: Array<string | { type: string; source: string; target: string }>;
  ports?: string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
}
const COMPOSE_TEXT = read('docker-compose.yml');
// Compose resolves `<<` merge keys (the x-jishi anchor), as yaml does with merge: true.
const COMPOSE = parseYaml(COMPOSE_TEXT, { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const SERVICES = COMPOSE.services;

/** The `${VAR...}` references of a text in compose syntax (`$$` is a literal `$`). */
function composeVariables(text: string): Array<{ name: string; operator: string }> {
  const unescaped = text.replace(/\$\$/g, '');
  const bare = /\$(?!\{)[A-Za-z_]/.exec(unescaped);
  if (bare) throw new Error(`unbraced variable reference near "${unescaped.slice(bare.index, bare.index + 30)}": write \${VAR}`);
  return [...unescaped.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])[^}]*)?\}/g)].map((m) => ({ name: m[1]!, operator: m[2] ?? '' }));
}

/** Compose's interpolation of one string: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, $$. */
function interpolate(text: string, env: Env): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (match, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (match === '$$') return '$';
    const value = env[name!];
    const empty = value === undefined || (op?.startsWith(':') === true && value === '');
    if (op?.endsWith('-')) return empty ? (arg ?? '') : value!;
    if (op?.endsWith('?')) {
      if (empty) throw new Error(`required variable ${name} is missing a value: ${arg}`);
      return value!;
    }
    return value ?? '';
  });
}

function serviceEnv(service: Service, env: Env): Env {
  const raw = service.environment ?? {};
  expect(Array.isArray(raw), 'environment as a mapping').toBe(false);
  return Object.fromEntries(Object.entries(raw as Record<string, string>).map(([k, v]) => [k, interpolate(String(v), env)]));
}

// ---- deploy/env.example -------------------------------------------------------------------------------------------

interface EnvEntry {
  name: string;
  value: string;
  /** The comment block that documents it: the nearest one above (entries may share one). */
  comment: string;
}
function parseEnvFile(text: string): EnvEntry[] {
  const entries: EnvEntry[] = [];
  let comment: string[] = [];
  let lastWasComment = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) {
      if (!lastWasComment) comment = [];
      comment.push(line.slice(1).trim());
      lastWasComment = true;
    } else if (line.trim() === '') {
      lastWasComment = false;
    } else {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
      if (!m) throw new Error(`env.example: not NAME=VALUE: ${line}`);
      entries.push({ name: m[1]!, value: m[2]!, comment: comment.join(' ') });
      lastWasComment = false;
    }
  }
  return entries;
}
const ENV_EXAMPLE = parseEnvFile(read('deploy/env.example'));
const envOf = (entries: readonly EnvEntry[]): Env => Object.fromEntries(entries.map((e) => [e.name, e.value]));

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

let tmp: string;
/** The .env that deploy/init-env.sh writes, and the admin token it prints. */
let generated: { env: Env; adminToken: string };

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'jishi-stack-'));
  const file = join(tmp, 'generated.env');
  const r = run('sh', ['deploy/init-env.sh', file]);
  expect(r.code, r.output).toBe(0);
  const adminToken = /^\s+(jishi_[A-Za-z0-9_-]{43})$/m.exec(r.stdout)?.[1];
  expect(adminToken, r.stdout).toBeDefined();
  generated = { env: envOf(parseEnvFile(readFileSync(file, 'utf8'))), adminToken: adminToken! };
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('docker-compose.yml', () => {
  it('has the services of the stack; the simulated lab only in the profile sim', () => {
    expect(Object.keys(SERVICES).sort()).toEqual(['agent-sim', 'collector', 'grafana', 'influxdb', 'mosquitto', 'simulator']);
    expect(SERVICES.influxdb!.image).toMatch(/^influxdb:1\.8/);
    expect(SERVICES.grafana!.image).toMatch(/^grafana\/grafana-oss:11\./);
    expect(SERVICES.mosquitto!.image).toMatch(/^eclipse-mosquitto:2/);
    for (const name of ['collector', 'simulator', 'agent-sim']) {
      expect(SERVICES[name]!.build, name).toBeDefined();
      expect(SERVICES[name]!.image, name).toBe(SERVICES.collector!.image);
    }
    for (const [name, s] of Object.entries(SERVICES)) {
      expect(s.profiles ?? [], name).toEqual(['simulator', 'agent-sim'].includes(name) ? ['sim'] : []);
    }
  });

  it('gives every service a restart policy and a health check', () => {
    for (const [name, s] of Object.entries(SERVICES)) {
      expect(['always', 'unless-stopped'], `${name} restart`).toContain(s.restart);
      expect(s.healthcheck?.disable, name).not.toBe(true);
      const test = s.healthcheck?.test;
      expect(Array.isArray(test) && ['CMD', 'CMD-SHELL'].includes(test[0]!) && test.length > 1, `${name} healthcheck.test`).toBe(true);
    }
    // Each server's own health endpoint.
    expect(SERVICES.collector!.healthcheck!.test).toContain('http://127.0.0.1:8080/healthz');
    expect(SERVICES.influxdb!.healthcheck!.test).toContain('http://127.0.0.1:8086/ping');
    expect(SERVICES.grafana!.healthcheck!.test).toContain('http://127.0.0.1:3000/api/health');
  });

  it('keeps every piece of state on a named volume', () => {
    const expected: Record<string, string> = {
      influxdb: '/var/lib/influxdb',
      collector: '/var/lib/jishi',
      mosquitto: '/mosquitto/data',
      grafana: '/var/lib/grafana',
      'agent-sim': '/var/lib/jishi-agent',
    };
    for (const [name, target] of Object.entries(expected)) {
      const mount = (SERVICES[name]!.volumes ?? []).map(String).find((v) => v.split(':')[1] === target);
      expect(mount, `${name} ${target}`).toBeDefined();
      const volume = mount!.split(':')[0]!;
      expect(Object.keys(COMPOSE.volumes), `${name}: ${volume} is a declared named volume`).toContain(volume);
    }
  });

  it('bind-mounts only paths that exist in the repository, read-only', () => {
    for (const [name, s] of Object.entries(SERVICES)) {
      for (const v of s.volumes ?? []) {
        const [source, target, mode] = typeof v === 'string' ? v.split(':') : [v.source, v.target, undefined];
        if (!source!.startsWith('.') && !source!.startsWith('/')) continue; // a named volume
        expect(source!.startsWith('./'), `${name}: ${source} is relative to the repository`).toBe(true);
        expect(existsSync(join(ROOT, source!)), `${name}: ${source} exists`).toBe(true);
        expect(mode, `${name}: ${source} -> ${target} read-only`).toBe('ro');
      }
    }
  });

  it('publishes only the collector, Grafana and Mosquitto, each on an address from .env; Grafana on loopback by default', () => {
    const published = Object.entries(SERVICES).flatMap(([name, s]) => (s.ports ?? []).map((p) => [name, p] as const));
    expect(published.map(([name]) => name).sort()).toEqual(['collector', 'grafana', 'mosquitto']);
    for (const [name, p] of published) expect(p, name).toMatch(/^\$\{[A-Z_]+_BIND:-[0-9.]+\}:\$\{[A-Z_]+_PORT:-\d+\}:\d+$/);
    expect(interpolate(SERVICES.grafana!.ports![0]!, {})).toBe('127.0.0.1:3000:3000');
    expect(interpolate(SERVICES.collector!.ports![0]!, {})).toBe('0.0.0.0:8080:8080');
  });

  it('documents every variable it uses in deploy/env.example, required ones as REQUIRED, and nothing else', () => {
    const used = composeVariables(COMPOSE_TEXT);
    const documented = new Map(ENV_EXAMPLE.map((e) => [e.name, e]));
    for (const { name, operator } of used) {
      expect(documented.has(name), `${name} is in deploy/env.example`).toBe(true);
      if (operator.endsWith('?')) expect(documented.get(name)!.comment, `${name} is marked REQUIRED`).toMatch(/\bREQUIRED\b/);
    }
    const usedNames = new Set(used.map((u) => u.name));
    // COMPOSE_PROFILES is read by Compose itself.
    for (const e of ENV_EXAMPLE) if (e.name !== 'COMPOSE_PROFILES') expect(usedNames.has(e.name), `${e.name} of env.example is used`).toBe(true);
    for (const e of ENV_EXAMPLE) expect(e.comment, `${e.name} has a comment`).not.toBe('');
  });

  it('ships no secret in deploy/env.example: Compose refuses to start until they are set', () => {
    const example = envOf(ENV_EXAMPLE);
    for (const name of ['GRAFANA_ADMIN_PASSWORD', 'MQTT_PASSWORD', 'JISHI_ADMIN_TOKEN_SHA256', 'JISHI_SIM_AGENT_TOKEN', 'JISHI_SIM_AGENT_TOKEN_SHA256']) {
      expect(example[name], name).toBe('');
    }
    for (const name of ['grafana', 'collector', 'mosquitto']) {
      expect(() => serviceEnv(SERVICES[name]!, example), name).toThrow(/required variable/);
    }
  });

  it('runs the collector with options `jishi collector` accepts, and the simulated agent with options `jishi agent` accepts', () => {
    for (const [service, command] of [['collector', 'collector'], ['agent-sim', 'agent']] as const) {
      const help = jishi([command, '--help']);
      expect(help.code, help.output).toBe(0);
      const args = SERVICES[service]!.command!;
      expect(args[0]).toBe(command);
      for (const option of args.filter((a) => a.startsWith('-'))) {
        expect(help.stdout, `${service}: ${option}`).toMatch(new RegExp(`(^|[ ,])${option}([ ,=]|$)`, 'm'));
      }
    }
  });

  it('points every file the services run at a file of the repository that the image contains', () => {
    const inImage = dockerCopies();
    const paths = Object.values(SERVICES).flatMap((s) =>
      [...(s.entrypoint ?? []), ...(s.command ?? []), ...(Array.isArray(s.healthcheck?.test) ? s.healthcheck.test : [])].filter((a) => a.startsWith('/app/')),
    );
    expect(paths.length).toBeGreaterThan(3);
    for (const p of paths) {
      const file = p.slice('/app/'.length);
      expect(existsSync(join(ROOT, file)), `${p} exists as ${file}`).toBe(true);
      expect(copied(file, inImage), `${file} is copied into the image`).toBe(true);
    }
  });

  it('mounts the generated dashboards where the dashboards provider reads them', () => {
    const mounts = (SERVICES.grafana!.volumes ?? []).map(String);
    expect(mounts).toContain('./dashboards/provisioning:/etc/grafana/provisioning:ro');
    expect(mounts).toContain('./dashboards/generated:/etc/grafana/dashboards/jishi:ro');
    const dir = join(ROOT, 'dashboards/provisioning/dashboards');
    const providers = existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)) : [];
    for (const file of providers) {
      const doc = parseYaml(readFileSync(join(dir, file), 'utf8')) as { providers?: Array<{ options?: { path?: string } }> };
      for (const p of doc.providers ?? []) {
        const path = p.options?.path ?? '';
        expect(path.startsWith('/etc/grafana/dashboards/jishi'), `${file}: provider path ${path} is mounted`).toBe(true);
      }
    }
  });
});

// ---- the collector config template ------------------------------------------------------------------------------

describe('deploy/collector.yaml (a template rendered when the collector container starts)', () => {
  const collector = (): Service => SERVICES.collector!;

  /** Renders the template with the collector container's environment and checks it as the container starts it. */
  function renderAndCheck(dotEnv: Env) {
    const containerEnv = serviceEnv(collector(), dotEnv);
    expect(containerEnv.JISHI_CONFIG_TEMPLATE).toBe('/etc/jishi/collector.yaml');
    const args = collector().command!.map((a) => interpolate(a, dotEnv));
    const configAt = args.indexOf('--config');
    expect(args[configAt + 1], '--config names the rendered file').toBe(containerEnv.JISHI_CONFIG);
    // The template is mounted from deploy/collector.yaml.
    expect((collector().volumes ?? []).map(String)).toContain(`./deploy/collector.yaml:${containerEnv.JISHI_CONFIG_TEMPLATE}:ro`);
    const out = join(tmp, `rendered-${Math.random().toString(36).slice(2)}.yaml`);
    const rendered = run(process.execPath, ['--import', 'tsx', 'deploy/docker/render-config.ts', 'deploy/collector.yaml', out], { env: containerEnv });
    expect(rendered.code, rendered.output).toBe(0);
    expect(statSync(out).mode & 0o077, 'rendered config readable by its owner only').toBe(0);
    const withData = args.map((a) => (a === '/var/lib/jishi' ? join(tmp, 'data') : a));
    withData.splice(configAt + 1, 1, out);
    return jishi([...withData, '--check']);
  }

  it('renders with the .env that deploy/init-env.sh writes and passes `jishi collector --check` with the compose overrides', () => {
    const check = renderAndCheck(generated.env);
    expect(check.code, check.output).toBe(0);
    expect(check.stdout).toContain('listen: http://0.0.0.0:8080');
    expect(check.stdout).toContain('influx: http://influxdb:8086 database jishi');
    expect(check.stdout).toContain('agents: sim-agent');
  });

  it('renders with env.example plus the secrets made by hand (jishi token) and passes the check', () => {
    const env = {
      ...envOf(ENV_EXAMPLE),
      GRAFANA_ADMIN_PASSWORD: 'x',
      MQTT_PASSWORD: 'y',
      JISHI_ADMIN_TOKEN_SHA256: sha256('jishi_admin'),
      JISHI_SIM_AGENT_TOKEN: 'jishi_sim',
      JISHI_SIM_AGENT_TOKEN_SHA256: sha256('jishi_sim'),
    };
    const check = renderAndCheck(env);
    expect(check.code, check.output).toBe(0);
  });

  it('stops the collector with a message naming the key when the simulated agent has no hash', () => {
    const check = renderAndCheck({ ...generated.env, JISHI_SIM_AGENT_TOKEN_SHA256: '' });
    expect(check.code).toBe(2);
    expect(check.stderr).toMatch(/token_sha256: must be 64 hex digits/);
  });

  it('uses only variables that docker-compose.yml passes to the collector', () => {
    const passed = Object.keys(collector().environment as Record<string, string>);
    const issues: string[] = [];
    try {
      renderConfigTemplate(read('deploy/collector.yaml'), 'deploy/collector.yaml', Object.fromEntries(passed.map((k) => [k, 'x'])));
    } catch (err) {
      issues.push((err as Error).message);
    }
    expect(issues).toEqual([]);
  });

  it('replaces ${VAR} in values only, keeps comments, escapes $${ and refuses unset variables', () => {
    const text = '# a comment\nkey: ${A}  # why\n${B}: kept\nlist: ["$${lit}", "${A}-${A}"]\nnumber: "${N}"\n';
    const out = renderConfigTemplate(text, 't.yaml', { A: 'a: b', N: '12' });
    expect(out).toContain('# a comment');
    expect(out).toContain('# why');
    // `${` left in a value is written `$${`: the collector, which substitutes `${VAR}` too, reads it back as rendered.
    expect(parseYaml(out)).toEqual({ key: 'a: b', '${B}': 'kept', list: ['$${lit}', 'a: b-a: b'], number: '12' });
    const issues: ConfigIssue[] = [];
    expect(substituteEnv(parseYaml(out), {}, issues)).toEqual({ key: 'a: b', '${B}': 'kept', list: ['${lit}', 'a: b-a: b'], number: '12' });
    expect(issues).toEqual([]);
    const secret = renderConfigTemplate('password: ${P}\n', 't.yaml', { P: 'p${x}$$y' });
    expect(substituteEnv(parseYaml(secret), {}, issues)).toEqual({ password: 'p${x}$$y' });
    expect(issues).toEqual([]);
    expect(() => renderConfigTemplate(text, 't.yaml', {})).toThrow(/\/key: environment variable A is not set/);
  });

  it('lists the simulated instruments with the thresholds and engine timings of the simulated lab, bound to sim-agent', () => {
    const file = parseYaml(read('deploy/collector.yaml')) as { instruments: Array<Record<string, unknown>> };
    const sims = file.instruments.filter((i) => String(i.id).startsWith('SIM-'));
    expect(sims.map((i) => i.id)).toEqual(SIM_FLEET.map((i) => i.id));
    for (const i of SIM_FLEET) {
      expect(sims.find((s) => s.id === i.id)).toEqual({ id: i.id, name: i.name, off_w: i.off_w, active_w: i.active_w, ...SIM_ENGINE, agent: 'sim-agent' });
    }
  });
});

// ---- the simulated agent ------------------------------------------------------------------------------------------

describe('the simulated lab (profile sim)', () => {
  it('deploy/sim/agent.yaml passes `jishi agent --check` with the environment compose gives agent-sim', () => {
    const env = serviceEnv(SERVICES['agent-sim']!, generated.env);
    const args = SERVICES['agent-sim']!.command!.map((a) => interpolate(a, generated.env));
    expect(args.slice(0, 3)).toEqual(['agent', '--config', '/etc/jishi/agent.yaml']);
    expect((SERVICES['agent-sim']!.volumes ?? []).map(String)).toContain('./deploy/sim/agent.yaml:/etc/jishi/agent.yaml:ro');
    const check = jishi(['agent', '--config', 'deploy/sim/agent.yaml', '--check'], env);
    expect(check.code, check.output).toBe(0);
    expect(check.stdout).toContain('agent: sim-agent -> http://collector:8080');
    // Its health endpoint is the one the service's health check asks.
    expect(SERVICES['agent-sim']!.healthcheck!.test).toContain('http://127.0.0.1:9475/healthz');
    expect(check.stdout).toContain('health endpoint: http://127.0.0.1:9475/status');
  });

  it('reads every instrument of the simulator, on the transport the simulator serves it', () => {
    const agent = parseYaml(read('deploy/sim/agent.yaml')) as { instruments: Array<Record<string, unknown>> };
    expect(agent.instruments).toEqual(SIM_FLEET.map((i) => ({ id: i.id, name: i.name, profile: i.profile, transport: simTransport(i) })));
    expect(SIM_FLEET.length).toBeGreaterThanOrEqual(5);
    expect(new Set(SIM_FLEET.map((i) => i.link))).toEqual(new Set(['modbus-tcp', 'rtu-over-tcp', 'mqtt']));
    // The simulator's health check asks its Modbus TCP gateway.
    expect(SERVICES.simulator!.healthcheck!.test).toContain(`tcp://127.0.0.1:${SIM_MODBUS_TCP_PORT}`);
  });

  it('gives the generated sim agent token the hash the collector gets', () => {
    expect(sha256(generated.env.JISHI_SIM_AGENT_TOKEN!)).toBe(generated.env.JISHI_SIM_AGENT_TOKEN_SHA256);
    expect(sha256(generated.adminToken)).toBe(generated.env.JISHI_ADMIN_TOKEN_SHA256);
    expect(generated.env.MQTT_PASSWORD).toMatch(/^[A-Za-z0-9._~-]{20,}$/);
    expect(generated.env.GRAFANA_ADMIN_PASSWORD).toMatch(/^[A-Za-z0-9_-]{20,}$/);
  });

  describe('end to end over loopback: simulator -> agent (deploy/sim/agent.yaml) -> collector (rendered deploy/collector.yaml)', () => {
    let broker: EmbeddedBroker | undefined;
    let lab: SimulatedLab | undefined;
    let collector: RunningCollector | undefined;
    let agent: RunningAgent | undefined;
    afterAll(async () => {
      await agent?.stop();
      await collector?.close();
      await lab?.close();
      await broker?.close();
    });

    it('shows every simulated instrument with live readings and a state', async () => {
      const env = generated.env;
      broker = await startEmbeddedBroker();
      lab = await startSimulatedLab({
        listenHost: '127.0.0.1', modbusTcpPort: 0, rtuOverTcpPort: 0, publishIntervalMs: 500,
        mqttUrl: `mqtt://${env.MQTT_USERNAME}:${env.MQTT_PASSWORD}@127.0.0.1:${broker.port}`,
      });
      // The collector of the stack: the rendered template, on a free loopback port, without InfluxDB.
      const rendered = parseYaml(renderConfigTemplate(read('deploy/collector.yaml'), 'deploy/collector.yaml', serviceEnv(SERVICES.collector!, env))) as Record<string, unknown>;
      delete rendered.influx;
      const dataDir = join(tmp, 'e2e-data');
      collector = await startCollector(
        collectorConfigFromObject({ ...rendered, listen: { host: '127.0.0.1', port: 0 }, data_dir: dataDir }, 'deploy/collector.yaml'),
        { logger: silentLogger() },
      );
      // The agent of the stack: deploy/sim/agent.yaml with the service names pointed at the loopback ports.
      const agentFile = parseYaml(read('deploy/sim/agent.yaml')) as Record<string, unknown> & { instruments: Array<{ transport: string }> };
      const agentConfig = agentConfigFromObject(
        {
          ...agentFile,
          collector: { ...(agentFile.collector as object), url: collector.url },
          poll_interval_s: 0.5,
          batch_interval_s: 0.5,
          state_dir: join(tmp, 'e2e-agent'),
          health: { listen: 'off' },
          instruments: agentFile.instruments.map((i) => ({
            ...i,
            transport: i.transport
              .replace(`${SIM_HOST}:${SIM_MODBUS_TCP_PORT}`, `127.0.0.1:${lab!.modbusTcpPort}`)
              .replace(`${SIM_HOST}:${SIM_RTU_OVER_TCP_PORT}`, `127.0.0.1:${lab!.rtuOverTcpPort}`)
              .replace(`${MQTT_SERVICE_HOST}:1883`, `127.0.0.1:${broker!.port}`),
          })),
        },
        'deploy/sim/agent.yaml',
        { env: serviceEnv(SERVICES['agent-sim']!, env) },
      );
      agent = await startAgent(agentConfig, { logger: silentLogger() });
      const list = await until(
        'every simulated instrument with a power reading at the collector',
        async () => {
          const res = await fetch(`${collector!.url}/api/v1/instruments`);
          const body = (await res.json()) as InstrumentList;
          const seen = body.instruments.filter((i) => typeof i.last_reading?.readings.power_w === 'number' && i.agent_id === 'sim-agent');
          return seen.length === SIM_FLEET.length ? body : undefined;
        },
        20_000,
        200,
      );
      for (const i of list.instruments) {
        expect(i.last_reading?.error, i.id).toBeUndefined();
        expect(i.name, i.id).toMatch(/\(simulated\)$/);
      }
      const health = (await (await fetch(`${collector.url}/healthz`)).json()) as { status: string };
      expect(health.status).toBe('ok');
    }, 40_000);
  });
});

// ---- Dockerfile and the image's contents --------------------------------------------------------------------------

/** The sources of the final stage's COPY instructions (not those copied from the build stage). */
function dockerCopies(): string[] {
  const text = read('Dockerfile').replace(/\\\n/g, ' ');
  const stages = text.split(/^FROM /m);
  const final = stages[stages.length - 1]!;
  return final
    .split('\n')
    .filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l))
    .flatMap((l) => {
      const parts = l.trim().split(/\s+/).slice(1).filter((p) => !p.startsWith('--'));
      return parts.slice(0, -1).map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''));
    });
}
function copied(file: string, sources: readonly string[]): boolean {
  return sources.some((s) => file === s || file.startsWith(`${s}/`));
}

/** .dockerignore patterns as regular expressions on paths relative to the context (a match of a parent excludes). */
function dockerIgnored(file: string): boolean {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const parents = file.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  return patterns.some((p) => {
    const body = p.replace(/^\//, '').replace(/\/$/, '');
    const re = new RegExp(`^${body.split('**').map((s) => s.split('*').map((t) => t.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')).join('.*')}$`);
    return parents.some((q) => re.test(q));
  });
}

interface ImportGraph {
  /** Repository files reached, relative to the root. */
  files: Set<string>;
  /** Paths the code reads relative to itself (new URL(..., import.meta.url)). */
  assets: Set<string>;
  /** Packages imported at run time (type-only imports left out), with a file that imports each. */
  packages: Map<string, string>;
}

/** Walks the relative imports (static, dynamic, require, createRequire) from the entry files. */
function importGraph(entries: readonly string[]): ImportGraph {
  const files = new Set<string>();
  const assets = new Set<string>();
  const packages = new Map<string, string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    if (!/\.(ts|mts|mjs|js|cjs)$/.test(file)) continue;
    const text = readFileSync(join(ROOT, file), 'utf8');
    const specifiers: string[] = [];
    // import/export ... from '...', import '...', import('...'), require('...'), createRequire(...)('...').
    for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?\bfrom\s*['"]([^'"]+)['"]/gms)) if (!m[2]) specifiers.push(m[3]!);
    for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) specifiers.push(m[1]!);
    for (const m of text.matchAll(/\b(?:import|require)\(\s*['"]([^'"]+)['"]\s*\)/g)) specifiers.push(m[1]!);
    for (const m of text.matchAll(/createRequire\([^)]*\)\(\s*['"]([^'"]+)['"]\s*\)/g)) specifiers.push(m[1]!);
    // Files and directories read at run time next to the code (new URL('../web/public/', import.meta.url)): they must
    // be in the image too, whether or not they exist yet.
    for (const m of text.matchAll(/new URL\(\s*['"](\.{1,2}\/[^'"]*)['"]\s*,\s*import\.meta\.url\s*\)/g)) {
      assets.add(relative(ROOT, resolve(dirname(join(ROOT, file)), m[1]!)));
    }
    for (const spec of specifiers) {
      if (spec.startsWith('node:')) continue;
      if (spec.startsWith('.')) {
        const target = relative(ROOT, resolve(dirname(join(ROOT, file)), spec));
        expect(existsSync(join(ROOT, target)), `${file} imports ${spec}`).toBe(true);
        queue.push(target);
      } else {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!packages.has(name)) packages.set(name, file);
      }
    }
  }
  return { files, assets, packages };
}

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  // The image's entry points: the CLI, and the files the entry point, the health check and the simulator run.
  const graph = importGraph(['bin/jishi.mjs', 'deploy/docker/render-config.ts', 'deploy/docker/healthcheck.mjs', 'deploy/docker/entrypoint.sh', 'deploy/sim/simulate.ts']);

  it('walks the CLI through its dynamic imports (every subcommand)', () => {
    for (const f of ['cli/main.ts', 'cli/collector-command.ts', 'cli/agent-command.ts', 'cli/demo.ts', 'collector/server.ts', 'agent/agent.ts', 'package.json']) {
      expect(graph.files.has(f), f).toBe(true);
    }
  });

  it('copies every file the CLI, the entry point and the simulator import, and .dockerignore keeps none of them out', () => {
    const sources = dockerCopies();
    const needed = [...graph.files, ...graph.assets];
    const missing = needed.filter((f) => !copied(f, sources));
    expect(missing, `not copied into the image (COPY sources: ${sources.join(', ')})`).toEqual([]);
    const ignored = needed.filter(dockerIgnored);
    expect(ignored, 'excluded from the build context by .dockerignore').toEqual([]);
    // Every top-level directory the import walk reaches is copied whole (deploy/ only in part).
    const topLevel = new Set([...graph.files].map((f) => f.split('/')[0]!).filter((t) => statSync(join(ROOT, t)).isDirectory() && t !== 'deploy'));
    for (const dir of topLevel) expect(sources, dir).toContain(dir);
    // And the build context keeps secrets and data out.
    for (const f of ['.env', 'deploy/mosquitto/passwd', 'backups/x/jishi.sqlite', 'jishi-data/jishi.sqlite', 'node_modules/x']) expect(dockerIgnored(f), f).toBe(true);
  });

  it('has every package the image imports among the production dependencies, tsx included', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; devDependencies?: Record<string, string> };
    expect(Object.keys(pkg.dependencies)).toContain('tsx');
    const missing = [...graph.packages].filter(([name]) => !(name in pkg.dependencies)).map(([name, from]) => `${name} (imported by ${from})`);
    expect(missing).toEqual([]);
  });

  it('builds in one stage and runs in another as a non-root user, with NODE_ENV=production and a health check', () => {
    const froms = dockerfile.match(/^FROM\s+\S+/gm) ?? [];
    expect(froms.length).toBe(2);
    expect(dockerfile).toMatch(/^FROM \S+ AS build$/m);
    const [build, runtime] = dockerfile.split(/^FROM \$\{NODE_IMAGE\}$/m) as [string, string];
    expect(build).toMatch(/python3 make g\+\+/);
    expect(build).toMatch(/npm ci --omit=dev/);
    expect(build).toMatch(/better-sqlite3/);
    expect(build).toMatch(/@serialport\/bindings-cpp/);
    expect(runtime).not.toMatch(/g\+\+|npm (ci|install)/);
    expect(runtime).toMatch(/COPY --from=build \/app\/node_modules \.\/node_modules/);
    expect(runtime).toMatch(/^ENV NODE_ENV=production$/m);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*healthcheck\.mjs/m);
    expect(runtime).toMatch(/^ENTRYPOINT \["\/app\/deploy\/docker\/entrypoint\.sh"\]$/m);
    expect(statSync(join(ROOT, 'deploy/docker/entrypoint.sh')).mode & 0o111).not.toBe(0);
  });
});

// ---- the helper scripts, run for real ------------------------------------------------------------------------------

describe('deploy scripts', () => {
  it.each(['deploy/docker/entrypoint.sh', 'deploy/mosquitto/start.sh', 'deploy/backup.sh', 'deploy/init-env.sh'])('%s is valid sh', (file) => {
    const r = run('sh', ['-n', file]);
    expect(r.code, r.output).toBe(0);
  });

  it('deploy/init-env.sh never overwrites an existing .env', async () => {
    const file = join(tmp, 'existing.env');
    await writeFile(file, 'KEEP=1\n');
    const r = run('sh', ['deploy/init-env.sh', file]);
    expect(r.code).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe('KEEP=1\n');
  });

  it('the health check passes on 2xx and an open TCP port, fails on 5xx and a closed port', async () => {
    const server = createHttpServer((req, res) => {
      res.writeHead(req.url === '/ok' ? 200 : 503).end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const closed = await new Promise<number>((r) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => r(p));
      });
    });
    // Asynchronously: the server answering is in this process.
    const check = (url?: string, env: Env = {}) =>
      new Promise<number>((done) => {
        const child = execFile(process.execPath, ['deploy/docker/healthcheck.mjs', ...(url ? [url] : [])], { cwd: ROOT, env: { ...env } });
        child.on('exit', (code) => done(code ?? -1));
      });
    try {
      expect(await check(`http://127.0.0.1:${port}/ok`)).toBe(0);
      expect(await check(`http://127.0.0.1:${port}/down`)).toBe(1);
      expect(await check(`tcp://127.0.0.1:${port}`)).toBe(0);
      expect(await check(`tcp://127.0.0.1:${closed}`)).toBe(1);
      expect(await check(undefined, { JISHI_HEALTHCHECK_URL: `http://127.0.0.1:${port}/ok` })).toBe(0);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('deploy/sqlite-backup.cjs copies a store the collector holds open, as one consistent file', async () => {
    const dir = join(tmp, 'backup');
    await mkdir(dir);
    const store = openSqliteStore(join(dir, 'jishi.sqlite'));
    const live = new Database(join(dir, 'jishi.sqlite'));
    try {
      live.exec('CREATE TABLE IF NOT EXISTS backup_probe (n INTEGER)');
      const insert = live.prepare('INSERT INTO backup_probe (n) VALUES (?)');
      for (let n = 0; n < 500; n++) insert.run(n);
      // Still in the WAL, not yet in the main file: a plain copy of jishi.sqlite would miss them.
      expect(existsSync(join(dir, 'jishi.sqlite-wal'))).toBe(true);
      const copy = join(dir, 'copy.sqlite');
      const r = run(process.execPath, ['-', join(dir, 'jishi.sqlite'), copy], { input: read('deploy/sqlite-backup.cjs') });
      expect(r.code, r.output).toBe(0);
      expect(existsSync(`${copy}-wal`)).toBe(false);
      const check = new Database(copy, { readonly: true });
      try {
        expect(check.prepare('SELECT count(*) AS n FROM backup_probe').get()).toEqual({ n: 500 });
        expect(check.pragma('journal_mode', { simple: true })).toBe('delete');
      } finally {
        check.close();
      }
    } finally {
      live.close();
      store.close();
    }
  });
});

// ---- docs/production.md --------------------------------------------------------------------------------------------

describe('docs/production.md', () => {
  const doc = read('docs/production.md');
  /** GitHub's heading anchors. */
  const anchors = new Set(
    [...doc.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) =>
      m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'),
    ),
  );

  it('has every anchor that the stack files and the guide itself link to', () => {
    const files = ['docker-compose.yml', 'Dockerfile', 'README.md', 'deploy/env.example', 'deploy/collector.yaml', 'deploy/mosquitto/mosquitto.conf', 'deploy/sim/agent.yaml'];
    const links = files.flatMap((f) => [...read(f).matchAll(/production\.md#([a-z0-9-]+)/g)].map((m) => m[1]!));
    links.push(...[...doc.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!));
    expect(links.length).toBeGreaterThan(5);
    for (const a of links) expect(anchors.has(a), `#${a}`).toBe(true);
  });

  it('links only to files that exist', () => {
    for (const m of doc.matchAll(/\]\((?!https?:|#)([^)#]+)(#[^)]*)?\)/g)) {
      expect(existsSync(join(ROOT, 'docs', m[1]!)), m[1]).toBe(true);
    }
  });

  it('documents the commands the stack is run and checked with', () => {
    for (const text of ['sh deploy/init-env.sh', 'docker compose up -d', 'deploy/backup.sh', '/healthz', 'jishi agent status', 'pending', 'jishi token']) {
      expect(doc, text).toContain(text);
    }
  });
});
