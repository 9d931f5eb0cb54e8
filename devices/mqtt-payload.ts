/**
 * MQTT payloads, both ways, for any MqttProfile (pure functions, no I/O).
 *
 * Forward (the driver): a message's payload -> the reading fields and the status it carries.
 * Inverse (the simulator): a TraceReading -> the payload of every message of a profile, such that decoding it
 * forward gives the trace's values and state back. The simulator has no per-vendor code: a new MQTT device is a
 * new profile, and it is simulated from the profile alone.
 *
 * Paths: `ENERGY.Power`, `params.switch:0.apower`, `aenergy.by_minute.0`. Segments are split on `.`; a numeric
 * segment indexes an array (and names a key of an object, e.g. `{"0": ...}`); keys may contain `:` (or any
 * character but `.`). The empty path is the whole payload.
 */
import { mappedStatus, type DeviceState, type MqttMessage, type MqttProfile, type StatusSource, type ValueField } from './profile.ts';

/** Replaces `{topic}` in a profile's topic template with the transport's topic (the device's name or prefix). */
export function expandTopic(template: string, topic: string): string {
  return template.split('{topic}').join(topic);
}

function segments(path: string): string[] {
  return path === '' ? [] : path.split('.');
}

const INDEX = /^\d+$/;

/** The value at a dot path in a parsed JSON document, or undefined when the path does not exist. */
export function getPath(root: unknown, path: string): unknown {
  let node: unknown = root;
  for (const seg of segments(path)) {
    if (Array.isArray(node)) {
      if (!INDEX.test(seg)) return undefined;
      node = node[Number(seg)];
    } else if (node !== null && typeof node === 'object') {
      if (!Object.prototype.hasOwnProperty.call(node, seg)) return undefined;
      node = (node as Record<string, unknown>)[seg];
    } else {
      return undefined;
    }
  }
  return node;
}

/**
 * Sets the value at a dot path, creating the objects (or arrays, for numeric segments) on the way; returns the
 * root (a new one when `root` is undefined or the path is empty).
 */
export function setPath(root: unknown, path: string, value: unknown): unknown {
  const segs = segments(path);
  if (segs.length === 0) return value;
  const container = (next: string): Record<string, unknown> | unknown[] => (INDEX.test(next) ? [] : {});
  const top = root !== null && typeof root === 'object' ? root : container(segs[0]!);
  let node = top as Record<string, unknown> | unknown[];
  segs.forEach((seg, i) => {
    const last = i === segs.length - 1;
    const key: string | number = Array.isArray(node) && INDEX.test(seg) ? Number(seg) : seg;
    const slot = node as Record<string | number, unknown>;
    if (last) {
      slot[key] = value;
      return;
    }
    const existing = slot[key];
    if (existing === null || typeof existing !== 'object') slot[key] = container(segs[i + 1]!);
    node = slot[key] as Record<string, unknown> | unknown[];
  });
  return top;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A number from a payload value: a finite JSON number, or a decimal number written as text (`"12.5"`, ` 3 `).
 * Anything else (booleans, `"on"`, `"0x10"`, `""`, NaN) gives undefined.
 */
export function parseNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (!DECIMAL.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** N when `scale` is 1/N for an integer N (0.001, 1/60000), so that scaling divides by N exactly. */
function reciprocal(scale: number): number | undefined {
  if (scale === 0 || Math.abs(scale) >= 1) return undefined;
  const inverse = 1 / scale;
  const n = Math.round(inverse);
  return Math.abs(inverse - n) <= Math.abs(n) * 1e-9 ? n : undefined;
}

/**
 * value = raw * scale + offset. A scale of 1/N divides by N instead, so that 161.961 Wh * 0.001 reads as
 * 0.161961 kWh rather than 0.16196100000000002.
 */
export function applyField(field: ValueField, raw: number): number {
  const scale = field.scale ?? 1;
  const n = reciprocal(scale);
  return (n === undefined ? raw * scale : raw / n) + (field.offset ?? 0);
}

/** The raw number a device sends for a field value: the inverse of applyField. */
export function invertField(field: ValueField, value: number): number {
  const scale = field.scale ?? 1;
  const n = reciprocal(scale);
  const v = value - (field.offset ?? 0);
  return n === undefined ? v / scale : v * n;
}

/** The state a raw status maps to (keys compared case-insensitively), or undefined when it is unmapped. */
export function statusState(source: StatusSource, raw: string): DeviceState | undefined {
  if (!source.map) return undefined;
  const wanted = raw.trim().toLowerCase();
  for (const [key, state] of Object.entries(source.map)) if (key.toLowerCase() === wanted) return state;
  return undefined;
}

/** The status text a sample carries: `<state>: <raw>` when the raw value is mapped, else the raw text. */
export function mapStatus(source: StatusSource, raw: string): string {
  const text = raw.trim();
  const state = statusState(source, text);
  return state === undefined ? text : mappedStatus(state, text);
}

/** What one payload says, for one message of a profile. */
export type DecodedMessage =
  /** The message does not apply (its `when` condition does not hold, or the payload is empty). */
  | { matched: false }
  | {
      matched: true;
      /** The fields the payload carries, scaled; fields it does not carry are left out (deltas). */
      values: Record<string, number>;
      /** The mapped status, when the payload carries one. */
      status?: string;
      /** What could not be decoded (bad JSON, a value that is not a number); empty for a clean payload. */
      problems: string[];
    };

function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** The raw status text of a JSON value: strings, numbers and booleans as written; undefined otherwise. */
function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** Decodes one payload (the UTF-8 text of an MQTT message) for one message of a profile. */
export function decodeMessage(message: MqttMessage, payload: string): DecodedMessage {
  if (payload.trim() === '') return { matched: false }; // a cleared retained message, or nothing to read
  const values: Record<string, number> = {};
  const problems: string[] = [];
  let status: string | undefined;

  if (message.format === 'text') {
    for (const f of message.fields) {
      const n = parseNumber(payload);
      if (n === undefined) problems.push(`payload ${describe(payload.trim())} is not a number (${f.field})`);
      else values[f.field] = applyField(f, n);
    }
    if (message.status) {
      const text = payload.trim();
      status = mapStatus(message.status, text);
    }
    return status === undefined ? { matched: true, values, problems } : { matched: true, values, status, problems };
  }

  let doc: unknown;
  try {
    doc = JSON.parse(payload);
  } catch (err) {
    if (message.when) return { matched: false };
    return { matched: true, values, problems: [`payload is not JSON (${(err as Error).message}): ${describe(payload)}`] };
  }
  if (message.when && scalarText(getPath(doc, message.when.path)) !== message.when.equals) return { matched: false };
  for (const f of message.fields) {
    const raw = getPath(doc, f.path);
    if (raw === undefined || raw === null) continue; // not in this payload: a delta, or the device lacks it
    const n = parseNumber(raw);
    if (n === undefined) problems.push(`${f.path} is ${describe(raw)}, not a number (${f.field})`);
    else values[f.field] = applyField(f, n);
  }
  if (message.status) {
    const raw = getPath(doc, message.status.path);
    if (raw !== undefined && raw !== null) {
      const text = scalarText(raw);
      if (text === undefined || text.trim() === '') problems.push(`${message.status.path || 'status'} is ${describe(raw)}, not a status word`);
      else status = mapStatus(message.status, text);
    }
  }
  return status === undefined ? { matched: true, values, problems } : { matched: true, values, status, problems };
}

type Availability = NonNullable<MqttProfile['availability']>;

/**
 * What an availability payload says. A JSON availability topic also accepts a bare word (`online`), as
 * Zigbee2MQTT's legacy availability and many bridges publish. Undefined when the payload is neither word.
 */
export function decodeAvailability(availability: Availability, payload: string): 'online' | 'offline' | undefined {
  let word: string | undefined = payload.trim();
  if (availability.format === 'json') {
    try {
      const doc: unknown = JSON.parse(payload);
      if (doc !== null && typeof doc === 'object') word = scalarText(getPath(doc, availability.path ?? ''));
    } catch {
      // not JSON: the bare word
    }
  }
  if (word === undefined) return undefined;
  const w = word.trim().toLowerCase();
  if (availability.online.some((v) => v.toLowerCase() === w)) return 'online';
  if (availability.offline.some((v) => v.toLowerCase() === w)) return 'offline';
  return undefined;
}

/** The availability payload a device publishes when it comes online / goes offline (the first word of each list). */
export function availabilityPayload(availability: Availability, online: boolean): string {
  const word = (online ? availability.online : availability.offline)[0];
  if (word === undefined) throw new Error(`availability of ${availability.topic} lists no ${online ? 'online' : 'offline'} value`);
  if (availability.format === 'text') return word;
  return JSON.stringify(availability.path ? setPath(undefined, availability.path, word) : word);
}

/**
 * The raw status value a device sends in `state`: the first value (from `values`, else the keys of `map`) that
 * maps to it, else the first unmapped value (the relay word `ON` for any state other than off), else the
 * state's own name.
 */
export function statusRawFor(source: StatusSource, state: DeviceState): string | number | boolean {
  const candidates = source.values ?? Object.keys(source.map ?? {});
  const mapped = candidates.find((c) => statusState(source, String(c)) === state);
  if (mapped !== undefined) return mapped;
  const unmapped = candidates.find((c) => statusState(source, String(c)) === undefined);
  return unmapped ?? state;
}

/**
 * What a simulated device reports: its state, and reading fields by name (numbers; a TraceReading is one).
 * Fields the profile has and the reading lacks are left out of the payloads.
 */
export interface SimulatedReading {
  readonly state: DeviceState;
}

/**
 * The payload of one message for a reading, or undefined when the message carries nothing the reading has
 * (a text message for a field the trace lacks).
 */
export function encodeMessage(message: MqttMessage, reading: SimulatedReading): string | undefined {
  const valueOf = (f: ValueField): number | undefined => {
    const v = (reading as unknown as Readonly<Record<string, unknown>>)[f.field];
    return typeof v === 'number' ? invertField(f, v) : undefined;
  };
  if (message.format === 'text') {
    for (const f of message.fields) {
      const raw = valueOf(f);
      if (raw !== undefined) return String(raw);
    }
    if (message.status) return String(statusRawFor(message.status, reading.state));
    return undefined;
  }
  let doc: unknown = {};
  if (message.when) doc = setPath(doc, message.when.path, message.when.equals);
  for (const f of message.fields) {
    const raw = valueOf(f);
    if (raw !== undefined) doc = setPath(doc, f.path, raw);
  }
  if (message.status) doc = setPath(doc, message.status.path, statusRawFor(message.status, reading.state));
  return JSON.stringify(doc);
}

/** One MQTT publication. */
export interface Publication {
  topic: string;
  payload: string;
}

/** The payloads of every message of a profile for one reading of the device published under `topic`. */
export function buildPayloads(profile: MqttProfile, topic: string, reading: SimulatedReading): Publication[] {
  const out: Publication[] = [];
  for (const m of profile.messages) {
    const payload = encodeMessage(m, reading);
    if (payload !== undefined) out.push({ topic: expandTopic(m.topic, topic), payload });
  }
  return out;
}

/** True when an MQTT topic filter (with `+` and `#` wildcards) matches a topic. */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const part = f[i]!;
    if (part === '#') return i > 0 || !topic.startsWith('$');
    if (i >= t.length) return false;
    if (part === '+') {
      if (i === 0 && t[0]!.startsWith('$')) return false;
      continue;
    }
    if (part !== t[i]) return false;
  }
  return f.length === t.length;
}
