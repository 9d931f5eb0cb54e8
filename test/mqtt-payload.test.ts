/**
 * MQTT payload decoding (the driver's side) and its inverse (the simulator's side), without a broker:
 * golden cases from the real payloads in shared/DEVICES.md, path edge cases, and the round trip
 * trace -> payloads -> readings for every MQTT profile.
 */
import { describe, expect, it } from 'vitest';
import { listProfiles } from '../devices/catalog.ts';
import { genericMqttJson } from '../devices/generic/mqtt-json.ts';
import {
  applyField,
  availabilityPayload,
  buildPayloads,
  decodeAvailability,
  decodeMessage,
  encodeMessage,
  expandTopic,
  getPath,
  invertField,
  mapStatus,
  parseNumber,
  setPath,
  statusRawFor,
  statusState,
  topicMatches,
} from '../devices/mqtt-payload.ts';
import { profileFields, type DeviceState, type MqttMessage, type MqttProfile } from '../devices/profile.ts';
import { shellyGen1Plug } from '../devices/shelly/gen1-plug.ts';
import { shellyGen2Switch } from '../devices/shelly/gen2-switch.ts';
import { tasmotaPlug } from '../devices/tasmota/plug.ts';
import { createTrace, DEMO_TRACES, TRACE_STATES, type TraceReading } from '../devices/traces.ts';
import { zigbee2mqttPlug } from '../devices/zigbee2mqtt/plug.ts';

const EPOCH = Date.UTC(2025, 0, 6, 9, 30, 0);

/** The five MQTT profiles of this version, plus any other MQTT profile the catalog holds. */
const MQTT_PROFILES: MqttProfile[] = (() => {
  const byId = new Map<string, MqttProfile>();
  for (const p of [tasmotaPlug, shellyGen1Plug, shellyGen2Switch, zigbee2mqttPlug, genericMqttJson]) byId.set(p.id, p);
  for (const p of listProfiles()) if (p.kind === 'mqtt' && !byId.has(p.id)) byId.set(p.id, p);
  return [...byId.values()];
})();

function message(profile: MqttProfile, topic: string): MqttMessage {
  const m = profile.messages.find((x) => x.topic === topic);
  if (!m) throw new Error(`${profile.id} has no message on ${topic}`);
  return m;
}

/** Decodes a payload that must match and be clean; returns values and status. */
function decode(m: MqttMessage, payload: string): { values: Record<string, number>; status?: string } {
  const d = decodeMessage(m, payload);
  if (!d.matched) throw new Error(`payload did not match ${m.topic}: ${payload}`);
  expect(d.problems).toEqual([]);
  return d.status === undefined ? { values: d.values } : { values: d.values, status: d.status };
}

describe('golden payloads (shared/DEVICES.md)', () => {
  it('Tasmota: tele SENSOR, STATE, stat POWER, LWT', () => {
    const sensor =
      '{"Time":"2023-08-21T15:05:31","ENERGY":{"TotalStartTime":"2022-09-24T18:51:27","Total":196.708,"Yesterday":0.000,"Today":0.000,"Period":0,"Power":0,"ApparentPower":0,"ReactivePower":0,"Factor":0.00,"Voltage":0,"Current":0.000}}';
    expect(decode(message(tasmotaPlug, 'tele/{topic}/SENSOR'), sensor)).toEqual({
      values: {
        power_w: 0,
        energy_kwh: 196.708,
        voltage_v: 0,
        current_a: 0,
        power_factor: 0,
        apparent_power_va: 0,
        reactive_power_var: 0,
      },
    });
    const loaded = '{"Time":"2023-08-21T16:00:00","ENERGY":{"Total":196.912,"Power":412,"ApparentPower":433,"ReactivePower":134,"Factor":0.95,"Voltage":231,"Current":1.874}}';
    expect(decode(message(tasmotaPlug, 'tele/{topic}/SENSOR'), loaded).values).toMatchObject({ power_w: 412, energy_kwh: 196.912, current_a: 1.874 });

    const state = (power: string): string =>
      `{"Time":"2023-08-21T15:05:31","Uptime":"0T00:15:12","UptimeSec":912,"Heap":25,"SleepMode":"Dynamic","Sleep":50,"LoadAvg":19,"MqttCount":1,"POWER":"${power}","Wifi":{"AP":1,"SSId":"lab","RSSI":72}}`;
    expect(decode(message(tasmotaPlug, 'tele/{topic}/STATE'), state('ON'))).toEqual({ values: {}, status: 'ON' });
    expect(decode(message(tasmotaPlug, 'tele/{topic}/STATE'), state('OFF'))).toEqual({ values: {}, status: 'off: OFF' });
    expect(decode(message(tasmotaPlug, 'stat/{topic}/POWER'), 'OFF').status).toBe('off: OFF');
    expect(decode(message(tasmotaPlug, 'stat/{topic}/POWER'), 'ON').status).toBe('ON');

    const av = tasmotaPlug.availability!;
    expect(expandTopic(av.topic, 'tasmota_4F2A1B')).toBe('tele/tasmota_4F2A1B/LWT');
    expect(decodeAvailability(av, 'Online')).toBe('online');
    expect(decodeAvailability(av, 'Offline')).toBe('offline');
    expect(decodeAvailability(av, 'offline')).toBe('offline'); // case-insensitive
    expect(decodeAvailability(av, 'rebooting')).toBeUndefined();
  });

  it('Shelly Gen1: relay/0/power W, relay/0/energy watt-minutes, relay/0 on/off, online', () => {
    expect(decode(message(shellyGen1Plug, 'shellies/{topic}/relay/0/power'), '12.34').values).toEqual({ power_w: 12.34 });
    const energy = decode(message(shellyGen1Plug, 'shellies/{topic}/relay/0/energy'), '11820').values.energy_kwh!;
    expect(energy).toBeCloseTo(0.197, 12); // 11820 Wmin = 197 Wh
    expect(decode(message(shellyGen1Plug, 'shellies/{topic}/relay/0'), 'on')).toEqual({ values: {}, status: 'on' });
    expect(decode(message(shellyGen1Plug, 'shellies/{topic}/relay/0'), 'off')).toEqual({ values: {}, status: 'off: off' });
    expect(decodeAvailability(shellyGen1Plug.availability!, 'true')).toBe('online');
    expect(decodeAvailability(shellyGen1Plug.availability!, 'false')).toBe('offline');
  });

  it('Shelly Gen2: full switch status, NotifyStatus deltas, other RPC events ignored', () => {
    const status =
      '{"id":0,"source":"WS_in","output":false,"apower":0.0,"voltage":241.4,"freq":50.0,"current":0.000,"aenergy":{"total":161.961,"by_minute":[0.000,0.000,0.000],"minute_ts":1744214220},"temperature":{"tC":31.5,"tF":88.8}}';
    const full = decode(message(shellyGen2Switch, '{topic}/status/switch:0'), status);
    expect(full.status).toBe('off: false');
    const { energy_kwh: energy, ...rest } = full.values;
    expect(rest).toEqual({ power_w: 0, voltage_v: 241.4, current_a: 0, frequency_hz: 50 });
    expect(energy).toBeCloseTo(0.161961, 12); // 161.961 Wh

    const rpc = message(shellyGen2Switch, '{topic}/events/rpc');
    const delta =
      '{"src":"shellyplusplugs-e465b8b1f2c0","dst":"shellyplusplugs-e465b8b1f2c0/events","method":"NotifyStatus","params":{"ts":1744214281.03,"switch:0":{"id":0,"apower":12.4}}}';
    expect(decode(rpc, delta)).toEqual({ values: { power_w: 12.4 } });
    const on =
      '{"src":"shellyplusplugs-e465b8b1f2c0","dst":"shellyplusplugs-e465b8b1f2c0/events","method":"NotifyStatus","params":{"ts":1744214281.5,"switch:0":{"id":0,"output":true,"source":"button"}}}';
    expect(decode(rpc, on)).toEqual({ values: {}, status: 'true' });
    const event =
      '{"src":"shellyplusplugs-e465b8b1f2c0","dst":"shellyplusplugs-e465b8b1f2c0/events","method":"NotifyEvent","params":{"ts":1744214290.1,"events":[{"component":"sys","event":"scheduled_restart"}]}}';
    expect(decodeMessage(rpc, event)).toEqual({ matched: false });
  });

  it('Zigbee2MQTT: device state, JSON availability and the legacy plain-text one', () => {
    const payload = '{"child_lock":"UNLOCK","current":0,"energy":12.05,"linkquality":43,"power":0,"power_outage_memory":"off","state":"OFF","voltage":243}';
    expect(decode(message(zigbee2mqttPlug, 'zigbee2mqtt/{topic}'), payload)).toEqual({
      values: { power_w: 0, energy_kwh: 12.05, voltage_v: 243, current_a: 0 },
      status: 'off: OFF',
    });
    const av = zigbee2mqttPlug.availability!;
    expect(decodeAvailability(av, '{"state":"online"}')).toBe('online');
    expect(decodeAvailability(av, '{"state":"offline"}')).toBe('offline');
    expect(decodeAvailability(av, 'online')).toBe('online');
    expect(decodeAvailability(av, 'offline')).toBe('offline');
    expect(decodeAvailability(av, '{"status":"online"}')).toBeUndefined();
    expect(availabilityPayload(av, true)).toBe('{"state":"online"}');
    expect(availabilityPayload(av, false)).toBe('{"state":"offline"}');
  });

  it('generic JSON: state words map, other words pass as they are', () => {
    const m = message(genericMqttJson, '{topic}');
    expect(decode(m, '{"power": 412.5, "energy": 1234.567, "status": "active"}')).toEqual({
      values: { power_w: 412.5, energy_kwh: 1234.567 },
      status: 'active: active',
    });
    expect(decode(m, '{"status":"RUNNING"}')).toEqual({ values: {}, status: 'RUNNING' });
    expect(decode(m, '{"power":"88.5"}')).toEqual({ values: { power_w: 88.5 } });
  });
});

describe('paths and numbers', () => {
  const doc = {
    ENERGY: { Power: [12, 13.5], Total: 1.5 },
    'switch:0': { aenergy: { by_minute: [0.1, 0.2, 0.3] } },
    obj: { '0': 'zero' },
    nothing: null,
  };

  it('walks dot paths: keys with colons, array indexes, numeric object keys', () => {
    expect(getPath(doc, 'ENERGY.Total')).toBe(1.5);
    expect(getPath(doc, 'ENERGY.Power.1')).toBe(13.5);
    expect(getPath(doc, 'switch:0.aenergy.by_minute.2')).toBe(0.3);
    expect(getPath(doc, 'obj.0')).toBe('zero');
    expect(getPath(doc, '')).toBe(doc);
  });

  it('gives undefined for paths that do not exist', () => {
    expect(getPath(doc, 'ENERGY.Voltage')).toBeUndefined();
    expect(getPath(doc, 'ENERGY.Power.5')).toBeUndefined();
    expect(getPath(doc, 'ENERGY.Power.first')).toBeUndefined();
    expect(getPath(doc, 'ENERGY.Total.x')).toBeUndefined();
    expect(getPath(doc, 'nothing.x')).toBeUndefined();
    expect(getPath(doc, 'toString')).toBeUndefined(); // own keys only
    expect(getPath(42, 'a')).toBeUndefined();
  });

  it('builds documents: objects, arrays for numeric segments, the root for the empty path', () => {
    let d = setPath(undefined, 'params.switch:0.apower', 5);
    d = setPath(d, 'params.switch:0.aenergy.by_minute.1', 7);
    d = setPath(d, 'method', 'NotifyStatus');
    expect(d).toEqual({ params: { 'switch:0': { apower: 5, aenergy: { by_minute: [undefined, 7] } } }, method: 'NotifyStatus' });
    expect(setPath({ a: 1 }, '', 'x')).toBe('x');
  });

  it('parses numbers from JSON numbers and decimal text only', () => {
    expect(parseNumber(12.5)).toBe(12.5);
    expect(parseNumber(' 12.5 ')).toBe(12.5);
    expect(parseNumber('-3')).toBe(-3);
    expect(parseNumber('1e3')).toBe(1000);
    expect(parseNumber('.5')).toBe(0.5);
    for (const bad of ['', ' ', 'on', '0x10', '12W', 'NaN', 'Infinity', true, null, undefined, {}, [1], Number.NaN]) {
      expect(parseNumber(bad), JSON.stringify(bad) ?? String(bad)).toBeUndefined();
    }
  });

  it('applies and inverts scale and offset', () => {
    const f = { field: 'temperature_c', path: '', scale: 0.1, offset: -40, unit: 'C' };
    expect(applyField(f, 650)).toBeCloseTo(25, 12);
    expect(invertField(f, 25)).toBeCloseTo(650, 9);
    expect(applyField({ field: 'power_w', path: '', unit: 'W' }, 7)).toBe(7);
  });

  it('maps statuses case-insensitively, and inverts them for the simulator', () => {
    const src = { path: 'POWER', map: { OFF: 'off' as DeviceState }, values: ['ON', 'OFF'] };
    expect(mapStatus(src, 'off')).toBe('off: off');
    expect(mapStatus(src, ' OFF ')).toBe('off: OFF');
    expect(mapStatus(src, 'ON')).toBe('ON');
    expect(mapStatus({ path: '' }, 'READY')).toBe('READY');
    expect(statusRawFor(src, 'off')).toBe('OFF');
    expect(statusRawFor(src, 'active')).toBe('ON');
    expect(statusRawFor(shellyGen2Switch.messages[0]!.status!, 'off')).toBe(false);
    expect(statusRawFor(shellyGen2Switch.messages[0]!.status!, 'standby')).toBe(true);
    expect(statusRawFor({ path: 'status' }, 'fault')).toBe('fault');
    expect(statusState(genericMqttJson.messages[0]!.status!, 'STANDBY')).toBe('standby');
  });

  it('reports malformed payloads as problems and keeps what it could decode', () => {
    const sensor = message(tasmotaPlug, 'tele/{topic}/SENSOR');
    const bad = decodeMessage(sensor, '{"ENERGY":{"Power":');
    expect(bad).toMatchObject({ matched: true, values: {} });
    expect(bad.matched && bad.problems[0]).toMatch(/not JSON/);
    const partial = decodeMessage(sensor, '{"ENERGY":{"Power":"n/a","Total":5,"Voltage":null}}');
    expect(partial).toEqual({ matched: true, values: { energy_kwh: 5 }, problems: ['ENERGY.Power is "n/a", not a number (power_w)'] });
    const text = decodeMessage(message(shellyGen1Plug, 'shellies/{topic}/relay/0/power'), 'overpower');
    expect(text).toMatchObject({ matched: true, values: {} });
    expect(text.matched && text.problems).toHaveLength(1);
    const status = decodeMessage(message(zigbee2mqttPlug, 'zigbee2mqtt/{topic}'), '{"state":{"l1":"ON"}}');
    expect(status.matched && status.problems[0]).toMatch(/not a status word/);
    // An empty payload (a cleared retained message) carries nothing and is no problem.
    expect(decodeMessage(sensor, '')).toEqual({ matched: false });
    // Bad JSON on a topic that only some messages match (`when`) is not this message's.
    expect(decodeMessage(message(shellyGen2Switch, '{topic}/events/rpc'), 'garbage')).toEqual({ matched: false });
  });

  it('matches topic filters with wildcards', () => {
    expect(topicMatches('tele/plug1/SENSOR', 'tele/plug1/SENSOR')).toBe(true);
    expect(topicMatches('tele/+/SENSOR', 'tele/plug1/SENSOR')).toBe(true);
    expect(topicMatches('tele/#', 'tele/plug1/SENSOR')).toBe(true);
    expect(topicMatches('tele/+', 'tele/plug1/SENSOR')).toBe(false);
    expect(topicMatches('tele/plug1', 'tele/plug1/SENSOR')).toBe(false);
    expect(topicMatches('#', '$SYS/broker/uptime')).toBe(false);
  });
});

describe('inverse: trace -> payloads -> readings, for every MQTT profile', () => {
  const trace = createTrace(DEMO_TRACES['flow-cytometer'], { seed: 11, epochMs: EPOCH });

  /** What the driver would hold after every payload of one round, in order (later messages overlay). */
  function roundTrip(profile: MqttProfile, reading: TraceReading): { values: Record<string, number>; status?: string } {
    const pubs = buildPayloads(profile, 'dev1', reading);
    expect(pubs.length).toBeGreaterThan(0);
    const values: Record<string, number> = {};
    let status: string | undefined;
    for (const { topic, payload } of pubs) {
      const messages = profile.messages.filter((m) => expandTopic(m.topic, 'dev1') === topic);
      expect(messages.length, topic).toBeGreaterThan(0);
      for (const m of messages) {
        const d = decodeMessage(m, payload);
        expect(d.matched, `${topic}: ${payload}`).toBe(true);
        if (!d.matched) continue;
        expect(d.problems).toEqual([]);
        Object.assign(values, d.values);
        if (d.status !== undefined) status = d.status;
      }
    }
    return status === undefined ? { values } : { values, status };
  }

  it.each(MQTT_PROFILES.map((p) => ({ id: p.id, p })))('$id gives the trace values and state back', ({ p }) => {
    const fields = profileFields(p).map((f) => f.field);
    for (const state of TRACE_STATES) {
      trace.forceState(state, EPOCH);
      for (const t of [EPOCH + 1000, EPOCH + 61_234, EPOCH + 3_600_000]) {
        const want = trace.at(t);
        const got = roundTrip(p, want);
        const wantRecord = want as unknown as Record<string, number>;
        const expected = fields.filter((f) => typeof wantRecord[f] === 'number');
        expect(Object.keys(got.values).sort()).toEqual(expected.sort());
        for (const f of expected) {
          const w = wantRecord[f]!;
          expect(Math.abs(got.values[f]! - w), `${f}: ${got.values[f]} vs ${w}`).toBeLessThanOrEqual(Math.abs(w) * 1e-12);
        }
        const source = p.messages.find((m) => m.status)?.status;
        if (source) {
          expect(got.status, `${state}`).toBeDefined();
          const raw = got.status!.replace(/^(off|standby|active|fault|unknown): /, '');
          const mapped = statusState(source, raw);
          const image = new Set(Object.values(source.map ?? {}));
          // A state the map names comes back as that state; others come back unmapped (e.g. relay ON).
          expect(mapped, `${state} -> ${got.status}`).toBe(image.has(state) ? state : undefined);
          if (mapped) expect(got.status).toBe(`${state}: ${raw}`);
        }
      }
      trace.forceState(null, EPOCH);
    }
    if (p.availability) {
      expect(decodeAvailability(p.availability, availabilityPayload(p.availability, true))).toBe('online');
      expect(decodeAvailability(p.availability, availabilityPayload(p.availability, false))).toBe('offline');
    }
  });

  it('writes payloads shaped like the real ones (JSON booleans, the when value, text numbers)', () => {
    const reading = { ...trace.at(EPOCH), state: 'off' as const, power_w: 0 };
    const [status, rpc] = shellyGen2Switch.messages;
    const full = JSON.parse(encodeMessage(status!, reading)!) as Record<string, unknown>;
    expect(full.output).toBe(false);
    expect(full.apower).toBe(0);
    expect((full.aenergy as { total: number }).total).toBeCloseTo(reading.energy_kwh * 1000, 6);
    const delta = JSON.parse(encodeMessage(rpc!, reading)!) as { method: string; params: Record<string, { output: boolean }> };
    expect(delta.method).toBe('NotifyStatus');
    expect(delta.params['switch:0']!.output).toBe(false);
    const running = { ...reading, state: 'active' as const, power_w: 55 };
    const pubs = buildPayloads(shellyGen1Plug, 'shellyplug-s-1', running);
    expect(pubs.map((x) => x.topic)).toEqual(['shellies/shellyplug-s-1/relay/0/power', 'shellies/shellyplug-s-1/relay/0/energy', 'shellies/shellyplug-s-1/relay/0']);
    expect(pubs[0]!.payload).toBe('55');
    expect(Number(pubs[1]!.payload)).toBeCloseTo(reading.energy_kwh * 60000, 3);
    expect(pubs[2]!.payload).toBe('on');
  });

  it('simulates a profile nobody wrote code for, from its data alone', () => {
    const custom: MqttProfile = {
      kind: 'mqtt',
      id: 'lab-freezer-monitor',
      vendor: 'DIY',
      model: 'ESP32 monitor',
      description: 'test',
      source: 'test',
      transports: ['mqtt'],
      messages: [
        {
          topic: 'lab/{topic}/telemetry',
          format: 'json',
          when: { path: 'kind', equals: 'energy' },
          fields: [
            { field: 'power_w', path: 'data.0.p_dW', scale: 0.1, unit: 'W' },
            { field: 'energy_kwh', path: 'data.0.e_Wh', scale: 0.001, offset: 100, unit: 'kWh' },
          ],
          status: { path: 'data.0.mode', map: { COOL: 'active', IDLE: 'standby', ALARM: 'fault', OFF: 'off' } },
        },
        { topic: 'lab/{topic}/volts', format: 'text', fields: [{ field: 'voltage_v', path: '', unit: 'V' }] },
      ],
    };
    trace.forceState('fault', EPOCH);
    const want = trace.at(EPOCH + 5000);
    trace.forceState(null, EPOCH);
    const got = roundTrip(custom, want);
    expect(got.status).toBe('fault: ALARM');
    expect(got.values.power_w).toBeCloseTo(want.power_w, 9);
    expect(got.values.energy_kwh).toBeCloseTo(want.energy_kwh, 9);
    expect(got.values.voltage_v).toBe(want.voltage_v);
    const body = JSON.parse(buildPayloads(custom, 'f1', want)[0]!.payload) as { kind: string; data: Array<Record<string, unknown>> };
    expect(body.kind).toBe('energy');
    expect(body.data[0]!.mode).toBe('ALARM');
  });
});
