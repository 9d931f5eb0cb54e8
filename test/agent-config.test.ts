import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.ts';
import { agentConfigFromObject, loadAgentConfig, parseAgentConfig } from '../agent/config.ts';
import { SUPPORTED_TRANSPORTS } from '../agent/drivers/index.ts';
import { configError } from './helpers/config-error.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jishi-agent-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const VALID = `
agent:
  id: lab-pc-1
collector:
  url: http://127.0.0.1:8080/
  token: \${JISHI_AGENT_TOKEN}
poll_interval_s: 5
batch_interval_s: 2
max_batch_samples: 500
instruments:
  - id: FCM-2019-001
    name: 流式细胞仪 BD FACSCanto II
    profile: eastron-sdm120
    transport: modbus-tcp://192.0.2.10:502?unit=1
    poll_interval_s: 1
  - id: SEQ-2021-007
    profile: eastron-sdm120
    transport: modbus-tcp://192.0.2.10?unit=2&timeout=500
`;


describe('agent config', () => {
  it('loads a valid file into a resolved config', async () => {
    const file = join(dir, 'agent.yaml');
    await writeFile(file, VALID);
    const config = await loadAgentConfig(file, { env: { JISHI_AGENT_TOKEN: 'secret-1' } });
    expect(config).toMatchObject({
      source: file,
      agentId: 'lab-pc-1',
      collector: { url: 'http://127.0.0.1:8080', token: 'secret-1' },
      pollIntervalMs: 5000,
      batchIntervalMs: 2000,
      maxBatchSamples: 500,
      maxQueueSamples: 100_000,
    });
    const [fcm, seq] = config.instruments;
    expect(fcm).toMatchObject({
      id: 'FCM-2019-001',
      name: '流式细胞仪 BD FACSCanto II',
      pollIntervalMs: 1000,
      transport: { kind: 'modbus-tcp', host: '192.0.2.10', port: 502, unit: 1, timeoutMs: 1000 },
      target: 'modbus-tcp://192.0.2.10:502?unit=1',
    });
    expect(fcm!.profile.id).toBe('eastron-sdm120');
    expect(seq).toMatchObject({ pollIntervalMs: 5000, transport: { unit: 2, timeoutMs: 500 } });
    expect(seq!.name).toBeUndefined();
  });

  it('applies defaults', () => {
    const config = parseAgentConfig(
      'agent: {id: a1}\ncollector: {url: "https://c.example", token: t}\ninstruments:\n  - {id: X1, profile: eastron-sdm120, transport: "modbus-tcp://192.0.2.5"}\n',
      'min.yaml',
      {},
    );
    expect(config).toMatchObject({ pollIntervalMs: 5000, batchIntervalMs: 2000, maxBatchSamples: 500, maxQueueSamples: 100_000 });
    expect(config.instruments[0]!.transport).toMatchObject({ port: 502, unit: 1 });
  });

  it('reports every error at once, naming file, instrument and bad value', () => {
    const text = `
agent:
  id: "lab pc"
collector:
  url: ftp://collector
  token: t
poll_interval_s: 0
max_batch_samples: 9000
instruments:
  - id: FCM-1
    profile: eastron-sdm12
    transport: modbus-tcp://192.0.2.1:502?unit=300&speed=fast
  - id: FCM-1
    profile: eastron-sdm120
    transport: serial:///dev/ttyUSB0?baud=9600
  - id: SEQ-2
    profile: eastron-sdm120
    transport: modbus-rtu:///dev/ttyUSB1
    poll_interval_s: 7200
    colour: blue
  - id: PLUG-3
    profile: eastron-sdm120
    transport: mqtt://user:hunter2@broker:1883/tele/plug/SENSOR
`;
    const err = configError(() => parseAgentConfig(text, '/etc/jishi/agent.yaml', {}));
    expect(err.file).toBe('/etc/jishi/agent.yaml');
    const msg = err.message;
    expect(msg).toMatch(/^\/etc\/jishi\/agent\.yaml: \d+ configuration errors:/);
    const find = (path: string, re: RegExp) => err.issues.find((i) => i.path === path && re.test(i.message));

    expect(find('/agent/id', /letters, digits/)).toMatchObject({ value: 'lab pc' });
    expect(find('/collector/url', /http: or https:/)).toMatchObject({ value: 'ftp://collector' });
    expect(find('/poll_interval_s', /between 0.1 and 3600 seconds/)).toMatchObject({ value: 0 });
    expect(find('/max_batch_samples', /between 1 and 5000/)).toMatchObject({ value: 9000 });
    // instrument 1: unknown profile (lists the known ones) and every transport URL error
    expect(find('/instruments/0/profile', /unknown device profile \(known: .*eastron-sdm120/)).toMatchObject({
      instrument: 'FCM-1',
      value: 'eastron-sdm12',
    });
    expect(find('/instruments/0/transport', /unit must be between 0 and 255, got 300/)).toMatchObject({ instrument: 'FCM-1' });
    expect(find('/instruments/0/transport', /unknown parameter "speed"/)).toBeDefined();
    // instrument 2: duplicate id, transport the profile does not support
    expect(find('/instruments/1/id', /duplicate instrument id/)).toMatchObject({ instrument: 'FCM-1', value: 'FCM-1' });
    expect(find('/instruments/1/transport', /profile eastron-sdm120 does not support serial transport \(supported: modbus-tcp, modbus-rtu\)/)).toMatchObject({
      value: 'serial:///dev/ttyUSB0?baud=9600',
    });
    // instrument 3: modbus-rtu is fine; interval out of range; a typo'd key
    expect(err.issues.filter((i) => i.path === '/instruments/2/transport')).toEqual([]);
    expect(find('/instruments/2/poll_interval_s', /between 0.1 and 3600/)).toMatchObject({ instrument: 'SEQ-2', value: 7200 });
    expect(find('/instruments/2/colour', /unknown key "colour"/)).toMatchObject({ instrument: 'SEQ-2' });
    // instrument 4: the password in the URL is not quoted back
    expect(find('/instruments/3/transport', /profile eastron-sdm120 does not support mqtt transport/)).toMatchObject({
      value: 'mqtt://user:***@broker:1883/tele/plug/SENSOR',
    });
    expect(msg).not.toContain('hunter2');
    // the rendered message names instrument and value on one line
    expect(msg).toContain('instrument "FCM-1" /instruments/0/profile: unknown device profile');
    expect(msg).toContain('(got "eastron-sdm12")');
    expect(err.issues.length).toBeGreaterThanOrEqual(11);
  });

  it('reports YAML syntax errors and a missing instrument list', () => {
    const bad = configError(() => parseAgentConfig('agent: {id: a\n  x: [', 'broken.yaml', {}));
    expect(bad.message).toMatch(/^broken\.yaml: .*\n  - \(root\): YAML /);
    const empty = configError(() => parseAgentConfig('agent: {id: a}\ncollector: {url: "http://c", token: t}\ninstruments: []\n', 'e.yaml', {}));
    expect(empty.issues).toEqual([expect.objectContaining({ path: '/instruments', message: 'must list at least 1 entry' })]);
  });

  it('substitutes ${VAR} from the environment and reports unset ones', () => {
    const obj = {
      agent: { id: '${AGENT}' },
      collector: { url: 'http://${HOST}:8080', token: 'x-${TOKEN}-$${LITERAL}' },
      instruments: [{ id: 'I1', profile: 'eastron-sdm120', transport: 'modbus-tcp://${METER}:502' }],
    };
    const config = agentConfigFromObject(obj, 'demo', { env: { AGENT: 'pc-9', HOST: 'collector.lab', TOKEN: 'abc', METER: '10.1.2.3' } });
    expect(config.agentId).toBe('pc-9');
    expect(config.collector).toEqual({ url: 'http://collector.lab:8080', token: 'x-abc-${LITERAL}' });
    expect(config.instruments[0]!.transport).toMatchObject({ host: '10.1.2.3' });

    const err = configError(() => agentConfigFromObject(obj, 'demo', { env: { AGENT: 'pc-9', HOST: 'h' } }));
    expect(err.issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: '/collector/token', message: 'environment variable TOKEN is not set' }),
        expect.objectContaining({ path: '/instruments/0/transport', message: 'environment variable METER is not set' }),
      ]),
    );
  });

  it('reads token_file relative to the config file, and reports a missing one', async () => {
    await writeFile(join(dir, 'agent.token'), 'tok-from-file\n');
    const base = 'agent: {id: a}\ninstruments:\n  - {id: I1, profile: eastron-sdm120, transport: "modbus-tcp://h"}\n';
    const file = join(dir, 'with-file.yaml');
    await writeFile(file, `${base}collector: {url: "http://c", token_file: agent.token}\n`);
    expect((await loadAgentConfig(file, { env: {} })).collector.token).toBe('tok-from-file');

    await writeFile(file, `${base}collector: {url: "http://c", token_file: missing.token}\n`);
    const err = await loadAgentConfig(file, { env: {} }).catch((e: unknown) => e as ConfigError);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([
      expect.objectContaining({ path: '/collector/token_file', value: join(dir, 'missing.token'), message: expect.stringContaining('ENOENT') }),
    ]);

    await writeFile(file, `${base}collector: {url: "http://c", token: t, token_file: agent.token}\n`);
    const both = await loadAgentConfig(file, { env: {} }).catch((e: unknown) => e as ConfigError);
    expect((both as ConfigError).issues).toEqual([expect.objectContaining({ path: '/collector', message: 'set either token or token_file, not both' })]);
  });

  it('names the file when it cannot be read', async () => {
    const missing = join(dir, 'nope.yaml');
    await expect(loadAgentConfig(missing)).rejects.toThrow(`${missing}: 1 configuration error`);
  });

  it('checks the driver table, not a list of its own', () => {
    expect([...SUPPORTED_TRANSPORTS].sort()).toEqual(['modbus-rtu', 'modbus-tcp', 'mqtt', 'serial']);
  });
});
