/**
 * The whole foundation path over real sockets: a Modbus TCP simulator -> agent (driver, samplers, uplink)
 * -> collector (HTTP ingest, SQLite store, live state) -> InfluxDB 1.x (a real influxd) with the documented
 * schema. A simulated instrument switched to another state shows up in the collector's live view.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxDB } from 'influx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentConfigFromObject } from '../agent/config.ts';
import { startAgent, type RunningAgent } from '../agent/agent.ts';
import { sha256Hex } from '../collector/auth.ts';
import { collectorConfigFromObject } from '../collector/config.ts';
import { startCollector, type RunningCollector } from '../collector/server.ts';
import { silentLogger } from '../common/log.ts';
import type { InstrumentList } from '../common/wire.ts';
import { sdm120 } from '../devices/eastron/sdm120.ts';
import { startModbusTcpSimulator, type ModbusTcpSimulator } from '../devices/simulators/modbus-tcp.ts';
import { createTrace, DEMO_TRACES } from '../devices/traces.ts';
import { influxdAvailable, requireOrSkip, startInfluxd, type RunningInfluxd } from './helpers/influxd.ts';
import { until } from './helpers/wait.ts';

const FLEET = [
  { id: 'FCM-1', unit: 1, trace: DEMO_TRACES['flow-cytometer'], off_w: 20, active_w: 300 },
  { id: 'SEQ-2', unit: 2, trace: DEMO_TRACES.sequencer, off_w: 20, active_w: 700 },
  { id: 'MS-3', unit: 3, trace: DEMO_TRACES['mass-spectrometer'], off_w: 100, active_w: 2150 },
];
const TOKEN = 'e2e-token-0123456789';

describe.skipIf(requireOrSkip('influxd', influxdAvailable()))('simulator -> agent -> collector -> InfluxDB', () => {
  let influxd: RunningInfluxd;
  let sim: ModbusTcpSimulator;
  let collector: RunningCollector;
  let agent: RunningAgent;
  let dataDir: string;
  let influx: InfluxDB;

  beforeAll(async () => {
    influxd = await startInfluxd();
    influx = new InfluxDB({ host: '127.0.0.1', port: influxd.port, database: 'jishi_e2e' });
    dataDir = await mkdtemp(join(tmpdir(), 'jishi-e2e-'));
    const now = Date.now();
    sim = await startModbusTcpSimulator({
      port: 0,
      devices: FLEET.map((f) => ({ unit: f.unit, profile: sdm120, trace: createTrace(f.trace, { seed: f.unit, epochMs: now }) })),
    });
    collector = await startCollector(
      collectorConfigFromObject(
        {
          listen: { port: 0 },
          data_dir: dataDir,
          influx: { url: influxd.url, database: 'jishi_e2e' },
          agents: [{ id: 'e2e-agent', token_sha256: sha256Hex(TOKEN) }],
          instruments: FLEET.map((f) => ({ id: f.id, off_w: f.off_w, active_w: f.active_w, min_dwell_s: 1 })),
        },
        'e2e',
      ),
      { logger: silentLogger() },
    );
    agent = await startAgent(
      agentConfigFromObject(
        {
          agent: { id: 'e2e-agent' },
          collector: { url: collector.url, token: TOKEN },
          state_dir: join(dataDir, 'agent-state'),
          poll_interval_s: 0.2,
          batch_interval_s: 0.2,
          instruments: FLEET.map((f) => ({ id: f.id, profile: 'eastron-sdm120', transport: sim.url(f.unit) })),
        },
        'e2e',
        { env: {} },
      ),
      { logger: silentLogger() },
    );
  });

  afterAll(async () => {
    await agent?.stop();
    await collector?.close();
    await sim?.close();
    await influxd?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const instruments = async (): Promise<InstrumentList> => {
    const res = await fetch(`${collector.url}/api/v1/instruments`);
    expect(res.status).toBe(200);
    return (await res.json()) as InstrumentList;
  };

  it('shows every instrument with its live state and decoded last reading', async () => {
    const list = await until('all instruments reporting', async () => {
      const l = await instruments();
      return l.instruments.filter((i) => i.last_reading !== null).length === FLEET.length ? l : undefined;
    });
    for (const i of list.instruments) {
      const r = i.last_reading!.readings;
      expect(r.voltage_v).toBeGreaterThan(220);
      expect(r.voltage_v).toBeLessThan(240);
      expect(r.frequency_hz).toBeCloseTo(50, 0);
      expect(r.energy_kwh).toBeGreaterThan(0);
      expect(['off', 'standby', 'active']).toContain(i.state);
      expect(i.agent_id).toBe('e2e-agent');
    }
  });

  it('follows a simulated instrument into another state', async () => {
    sim.setState(3, 'active');
    await until('MS-3 active', async () => (await instruments()).instruments.find((i) => i.id === 'MS-3')?.state === 'active');
    sim.setState(3, 'standby');
    const ms = await until('MS-3 standby', async () => {
      const i = (await instruments()).instruments.find((x) => x.id === 'MS-3');
      return i?.state === 'standby' ? i : undefined;
    });
    expect(ms.last_reading!.readings.power_w).toBeGreaterThanOrEqual(100);
    expect(ms.last_reading!.readings.power_w).toBeLessThan(2150);
  });

  it('forwards every stored reading to InfluxDB with the documented schema', async () => {
    // Stop polling so the store and InfluxDB can be compared at rest.
    await agent.stop();
    await until('forwarder drained', () => collector.forwarder!.status().pending === 0, 15_000);
    const stored = collector.store.readingsAfter(0, 1_000_000);
    expect(stored.length).toBeGreaterThanOrEqual(FLEET.length * 3);

    const fieldKeys = await influx.query<{ fieldKey: string; fieldType: string }>('SHOW FIELD KEYS FROM "reading"');
    const types = Object.fromEntries(fieldKeys.map((r) => [r.fieldKey, r.fieldType]));
    for (const f of ['power_w', 'energy_kwh', 'energy_export_kwh', 'voltage_v', 'current_a', 'frequency_hz', 'power_factor', 'apparent_power_va', 'reactive_power_var']) {
      expect(types[f], f).toBe('float');
    }
    const tagKeys = await influx.query<{ tagKey: string }>('SHOW TAG KEYS FROM "reading"');
    expect(tagKeys.map((t) => t.tagKey).sort()).toEqual(['agent_id', 'instrument_id']);

    for (const f of FLEET) {
      const rows = await influx.query<{ time: Date; power_w: number; energy_kwh: number; agent_id: string }>(
        `SELECT power_w, energy_kwh, agent_id FROM "reading" WHERE instrument_id = '${f.id}' ORDER BY time ASC`,
      );
      const mine = stored.filter((s) => s.instrument_id === f.id);
      expect(rows.length, f.id).toBe(mine.length);
      rows.forEach((row, k) => {
        expect(row.time.getTime()).toBe(mine[k]!.ts);
        expect(row.power_w).toBeCloseTo(mine[k]!.readings.power_w!, 6);
        expect(row.agent_id).toBe('e2e-agent');
      });
      // The meter's energy counter only moves forward.
      for (let k = 1; k < rows.length; k++) expect(rows[k]!.energy_kwh).toBeGreaterThanOrEqual(rows[k - 1]!.energy_kwh);
    }
  });
});
