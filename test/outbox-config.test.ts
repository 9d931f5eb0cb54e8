/** The agent config keys of the durable outbox: state_dir and the outbox section, defaults and errors. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentConfigFromObject, loadAgentConfig, parseAgentConfig } from '../agent/config.ts';
import { configError } from './helpers/config-error.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jishi-outbox-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const BASE = `agent: {id: a1}
collector: {url: "http://c:8080", token: t}
instruments:
  - {id: X1, profile: eastron-sdm120, transport: "modbus-tcp://192.0.2.5"}
`;


describe('agent config: the durable outbox', () => {
  it('defaults: ./jishi-agent-state beside the config file, sync interval 1 s, 1 GB, no sample bound', async () => {
    const file = join(dir, 'agent.yaml');
    await writeFile(file, BASE);
    const config = await loadAgentConfig(file, { env: {} });
    expect(config.stateDir).toBe(join(dir, 'jishi-agent-state'));
    expect(config.outbox).toEqual({ sync: 'interval', syncIntervalMs: 1000, maxBytes: 1_000_000_000 });
    expect(config.maxQueueSamples).toBe(100_000); // still the bound of an in-memory outbox
  });

  it('reads state_dir (relative to the config file, or absolute) and the outbox section', async () => {
    const file = join(dir, 'set.yaml');
    await writeFile(file, `${BASE}state_dir: state/agent\nmax_queue_samples: 5000\noutbox: {sync: always, sync_interval_s: 0.25, max_bytes: 50000000}\n`);
    const config = await loadAgentConfig(file, { env: {} });
    expect(config.stateDir).toBe(join(dir, 'state', 'agent'));
    // an explicit max_queue_samples keeps bounding the queue, now on disk
    expect(config.outbox).toEqual({ sync: 'always', syncIntervalMs: 250, maxBytes: 50_000_000, maxSamples: 5000 });

    const absolute = parseAgentConfig(`${BASE}state_dir: ${join(dir, 'abs')}\n`, join(dir, 'elsewhere', 'x.yaml'), {});
    expect(absolute.stateDir).toBe(join(dir, 'abs'));
  });

  it('a config built in code resolves state_dir against baseDir, else the working directory', () => {
    const obj = {
      agent: { id: 'a1' },
      collector: { url: 'http://c', token: 't' },
      instruments: [{ id: 'X1', profile: 'eastron-sdm120', transport: 'modbus-tcp://h' }],
    };
    expect(agentConfigFromObject(obj, 'code', { env: {} }).stateDir).toBe(join(process.cwd(), 'jishi-agent-state'));
    expect(agentConfigFromObject({ ...obj, state_dir: 'st' }, 'code', { env: {}, baseDir: dir }).stateDir).toBe(join(dir, 'st'));
  });

  it('reports every outbox error at once, with the bad value', async () => {
    const notADir = join(dir, 'a-file');
    await writeFile(notADir, 'x');
    const err = configError(() =>
      parseAgentConfig(
        `${BASE}state_dir: ${notADir}\noutbox: {sync: sometimes, sync_interval_s: 0, max_bytes: 1000, colour: blue}\n`,
        '/etc/jishi/agent.yaml',
        {},
      ),
    );
    const find = (path: string, re: RegExp) => err.issues.find((i) => i.path === path && re.test(i.message));
    expect(find('/state_dir', /exists and is not a directory/)).toMatchObject({ value: notADir });
    expect(find('/outbox/sync', /must be one of always, interval/)).toMatchObject({ value: 'sometimes' });
    expect(find('/outbox/sync_interval_s', /between 0.01 and 60 seconds/)).toMatchObject({ value: 0 });
    expect(find('/outbox/max_bytes', /between 1000000 and 1000000000000/)).toMatchObject({ value: 1000 });
    expect(find('/outbox/colour', /unknown key "colour"/)).toBeDefined();
    expect(err.message).toMatch(/^\/etc\/jishi\/agent\.yaml: 5 configuration errors:/);
  });

  it('rejects an empty state_dir', () => {
    const err = configError(() => parseAgentConfig(`${BASE}state_dir: ""\n`, 'x.yaml', {}));
    expect(err.issues).toEqual([expect.objectContaining({ path: '/state_dir' })]);
  });
});
