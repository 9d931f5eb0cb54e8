/**
 * Device profiles declared in the agent config (`profiles:`) and per-instrument Modbus request options.
 */
import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../agent/config.ts';
import { configError } from './helpers/config-error.ts';

const HEAD = `
agent: { id: lab-pc-1 }
collector: { url: 'http://127.0.0.1:8080', token: t }
`;

describe('profiles declared in the agent config', () => {
  it('resolves a custom Modbus profile with its request options, overridden per instrument', () => {
    const config = parseAgentConfig(
      `${HEAD}
profiles:
  - id: lab-meter
    kind: modbus
    vendor: Acme
    unit: 3
    request: { max_registers: 8, pause_ms: 20 }
    fields:
      - { field: power_w, fn: 4, address: 0, type: int32, order: CDAB, scale: 0.1, unit: W }
      - { field: energy_kwh, fn: 4, address: 2, type: uint32, scale: 0.01, unit: kWh }
instruments:
  - id: A
    profile: lab-meter
    transport: modbus-tcp://192.0.2.10:502
  - id: B
    profile: lab-meter
    transport: modbus-tcp://192.0.2.10:502?unit=4
    modbus: { pause_ms: 100, one_request_per_field: true }
  - id: C
    profile: eastron-sdm120
    transport: modbus-tcp://192.0.2.11:502
`,
      'agent.yaml',
      {},
    );
    const [a, b, c] = config.instruments;
    expect(a!.profile).toMatchObject({ kind: 'modbus', id: 'lab-meter', vendor: 'Acme', model: 'lab-meter', defaults: { unit: 3, baud: 9600 } });
    expect(a!.profile.kind === 'modbus' && a!.profile.fields[0]).toEqual({ field: 'power_w', fn: 4, address: 0, type: 'int32', order: 'CDAB', scale: 0.1, offset: 0, unit: 'W' });
    expect(a!.transport).toMatchObject({ kind: 'modbus-tcp', unit: 3 }); // the profile's default unit
    expect(a!.modbus).toEqual({ maxRegisters: 8, pauseMs: 20 });
    expect(b!.modbus).toEqual({ maxRegisters: 8, pauseMs: 100, oneRequestPerField: true });
    expect(c!.modbus).toBeUndefined();
  });

  it('reports every problem of every profile at once, with the profile id, and does not repeat them for instruments', () => {
    const err = configError(() =>
      parseAgentConfig(
        `${HEAD}
profiles:
  - id: bad-serial
    kind: serial
    mode: query
    terminator: "\\n"
    pattern: "^(?<power>[0-9.]+"
    fields: [{ field: power_w, path: watts, unit: W }]
    template: "{power}"
  - id: eastron-sdm120
    kind: mqtt
    messages: [{ topic: 'plugs/power', format: text, fields: [{ field: power_w, path: '', unit: kW }] }]
  - id: no-kind
  - id: typo
    kind: modbus
    fields: [{ field: power_w, address: 70000, type: float16, unit: W }]
instruments:
  - id: A
    profile: bad-serial
    transport: serial:///dev/ttyUSB0
  - id: B
    profile: nowhere
    transport: modbus-tcp://192.0.2.10
    modbus: { pause_ms: -1 }
`,
        'agent.yaml',
        {},
      ),
    );
    const text = err.message;
    expect(text).toMatch(/^agent\.yaml: /);
    expect(text).toMatch(/\/profiles\/0: profile bad-serial: pattern: not a valid regular expression/);
    expect(text).toMatch(/\/profiles\/0: profile bad-serial: query mode needs a step that sends a command/);
    expect(text).toMatch(/\/profiles\/1\/id: profile eastron-sdm120: is the id of a catalog profile/);
    expect(text).toMatch(/profile eastron-sdm120: topic plugs\/power: must contain \{topic\}/);
    expect(text).toMatch(/profile eastron-sdm120: .*power_w must be in W, not kW/);
    expect(text).toMatch(/\/profiles\/2\/kind: profile no-kind: must be one of modbus, mqtt, serial/);
    expect(text).toMatch(/\/profiles\/3\/fields\/0\/address: profile typo: /);
    expect(text).toMatch(/\/profiles\/3\/fields\/0\/type: profile typo: /);
    expect(text).toMatch(/instrument "B" \/instruments\/1\/profile: unknown device profile .*nowhere/);
    expect(text).toMatch(/instrument "B" \/instruments\/1\/modbus\/pause_ms/);
    // Instrument A uses the broken profile: not reported again as unknown.
    expect(err.issues.filter((i) => i.instrument === 'A' && /unknown device profile/.test(i.message))).toEqual([]);
  });

  it('refuses a modbus section on an instrument whose profile is not Modbus', () => {
    const err = configError(() =>
      parseAgentConfig(
        `${HEAD}
profiles:
  - id: status-box
    kind: serial
    mode: listen
    terminator: "\\r\\n"
    pattern: "^STATE (?<state>\\\\w+)$"
    fields: []
    status: { path: state, map: { RUN: active } }
    template: "STATE {state}"
instruments:
  - id: A
    profile: status-box
    transport: serial:///dev/ttyUSB0
    modbus: { pause_ms: 10 }
`,
        'agent.yaml',
        {},
      ),
    );
    expect(err.issues).toContainEqual(
      expect.objectContaining({ path: '/instruments/0/modbus', instrument: 'A', message: 'the modbus section applies to Modbus profiles only; status-box is a serial profile' }),
    );
  });
});

describe('docs/config.md "Declaring a profile"', () => {
  it('shows an example that loads as it is', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../docs/config.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('### Declaring a profile'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
    const config = parseAgentConfig(`${HEAD}${yaml}`, 'config.md', {});
    expect(config.instruments.map((i) => [i.id, i.profile.kind, i.profile.id])).toEqual([
      ['ICP-2016-001', 'modbus', 'lab-meter'],
      ['PCR-2022-004', 'mqtt', 'lab-json-plug'],
      ['TF-2019-002', 'serial', 'lab-furnace'],
    ]);
    const furnace = config.instruments[2]!.profile;
    expect(furnace.kind === 'serial' && new RegExp(furnace.pattern).exec('ERR 12,T=612.5')?.groups).toEqual({ state: 'ERR 12', temp: '612.5' });
    expect(furnace.kind === 'serial' && furnace.steps).toEqual([{ send: 'STAT?\r\n' }]);
  });
});
