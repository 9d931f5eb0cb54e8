/**
 * Serial instrument codec: pure functions between the lines an instrument sends and readings.
 *
 * - compileSerialProfile: checks a SerialProfile and compiles its pattern once (cached per profile object);
 * - matchSerialLine: one line (without terminator) -> readings and status, or why it does not decode;
 * - parseSerialNumber: SCPI NR1 / NR2 / NR3 numbers (`12`, `-1.5`, `+1.23450E+02`), nothing else;
 * - renderSerialLine: the inverse, for the simulator: the profile's template filled from a trace reading, so any
 *   SerialProfile given as data can be simulated without device code;
 * - LineFramer: splits a byte stream (latin1 text) into lines at the profile's terminator;
 * - escapeSerial / unescapeSerial: control characters as `\r`, `\x06` for logs, raw frames and config text.
 *
 * Strings are handled as latin1 text: one character per byte, so control bytes (ACK 0x06, NAK 0x15) survive.
 */
import type { Readings } from '../common/wire.ts';
import { mappedStatus, type DeviceState, type SerialProfile, type SerialSimulatedValue, type SerialStep, type ValueField } from './profile.ts';
import type { TraceReading } from './traces.ts';

/** NAK (0x15): how handshaking instruments (Pfeiffer TPG, many others) refuse a command. */
export const NAK = '\x15';
/** ACK (0x06). */
export const ACK = '\x06';
/** Longest status text a sample may carry (common/wire.ts Sample.status). */
const MAX_STATUS_LENGTH = 128;
/** SCPI's sentinels: 9.9E37 is +/-infinity (overload), 9.91E37 is not-a-number. No real reading is that large. */
const SCPI_SENTINEL = 9.9e37;

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** A SerialProfile checked and with its pattern compiled. */
export interface CompiledSerialProfile {
  readonly profile: SerialProfile;
  readonly regex: RegExp;
  /** Named groups of the pattern, in order. */
  readonly groups: readonly string[];
  /** Status map with lower-cased keys. */
  readonly statusMap: ReadonlyMap<string, DeviceState>;
}

/** The result of matching one line. */
export type SerialMatch =
  | { ok: true; readings: Readings; status?: string }
  | { ok: false; reason: string };

/** Named groups of a regular expression source, in order (lookbehinds `(?<=`, `(?<!` are not groups). */
export function patternGroups(pattern: string): string[] {
  return [...pattern.matchAll(/\(\?<([A-Za-z_$][A-Za-z0-9_$]*)>/g)].map((m) => m[1]!);
}

/** The `{group}` placeholders of a template, in order. */
export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/** Problems with a serial profile that keep it from being read or simulated; empty when it is fine. */
export function serialProfileProblems(profile: SerialProfile): string[] {
  const problems: string[] = [];
  let groups: string[] = [];
  try {
    new RegExp(profile.pattern);
    groups = patternGroups(profile.pattern);
    if (groups.length === 0) problems.push('pattern has no named group, e.g. (?<power>[0-9.]+)');
  } catch (err) {
    problems.push(`pattern is not a valid regular expression: ${(err as Error).message}`);
  }
  for (const f of profile.fields) {
    if (!groups.includes(f.path)) problems.push(`field ${f.field}: the pattern has no group "${f.path}"`);
    if (f.scale !== undefined && (!Number.isFinite(f.scale) || f.scale === 0)) problems.push(`field ${f.field}: scale must be finite and non-zero`);
    if (f.offset !== undefined && !Number.isFinite(f.offset)) problems.push(`field ${f.field}: offset must be finite`);
  }
  if (profile.status && !groups.includes(profile.status.path)) problems.push(`status: the pattern has no group "${profile.status.path}"`);
  const placeholders = templatePlaceholders(profile.template);
  for (const g of groups) if (!placeholders.includes(g)) problems.push(`template has no {${g}} placeholder`);
  if (profile.terminator === '') problems.push('terminator is empty');
  if (profile.mode === 'query' && !(profile.steps ?? []).some((s) => 'send' in s)) problems.push('query mode needs a step that sends a command');
  return problems;
}

const compiled = new WeakMap<SerialProfile, CompiledSerialProfile>();

/** Checks a profile and compiles its pattern (once per profile object). Throws an Error listing every problem. */
export function compileSerialProfile(profile: SerialProfile): CompiledSerialProfile {
  const cached = compiled.get(profile);
  if (cached) return cached;
  const problems = serialProfileProblems(profile);
  if (problems.length > 0) throw new Error(`serial profile ${profile.id}: ${problems.join('; ')}`);
  const statusMap = new Map<string, DeviceState>();
  for (const [raw, state] of Object.entries(profile.status?.map ?? {})) statusMap.set(raw.trim().toLowerCase(), state);
  const result: CompiledSerialProfile = {
    profile,
    regex: new RegExp(profile.pattern),
    groups: patternGroups(profile.pattern),
    statusMap,
  };
  compiled.set(profile, result);
  return result;
}

/** A SCPI NR1/NR2/NR3 number (`42`, `-0.5`, `+1.2E-03`), surrounding blanks allowed; undefined for anything else. */
export function parseSerialNumber(text: string): number | undefined {
  const t = text.trim();
  if (!NUMBER.test(t)) return undefined;
  const n = Number(t);
  if (!Number.isFinite(n) || Math.abs(n) >= SCPI_SENTINEL) return undefined;
  return n;
}

/** The status text for a raw status value: `<state>: <raw>` when the map gives a state, else the raw value. */
export function serialStatus(c: CompiledSerialProfile, raw: string): string {
  const value = raw.trim();
  const state = c.statusMap.get(value.toLowerCase());
  const text = state === undefined ? value : mappedStatus(state, value);
  return text.length > MAX_STATUS_LENGTH ? text.slice(0, MAX_STATUS_LENGTH) : text;
}

/** Decodes one line (terminator removed). A field whose group did not take part in the match is left out. */
export function matchSerialLine(c: CompiledSerialProfile, line: string): SerialMatch {
  const m = c.regex.exec(line);
  if (!m) return { ok: false, reason: `does not match the pattern ${c.profile.pattern}` };
  const groups = m.groups ?? {};
  const readings: Readings = {};
  for (const f of c.profile.fields) {
    const raw = groups[f.path];
    if (raw === undefined) continue;
    const n = parseSerialNumber(raw);
    if (n === undefined) return { ok: false, reason: `${f.field}: "${raw}" (group ${f.path}) is not a number` };
    const value = n * (f.scale ?? 1) + (f.offset ?? 0);
    if (!Number.isFinite(value)) return { ok: false, reason: `${f.field}: "${raw}" scales to ${value}` };
    readings[f.field] = value;
  }
  const statusRaw = c.profile.status ? groups[c.profile.status.path] : undefined;
  if (statusRaw !== undefined && statusRaw.trim() !== '') return { ok: true, readings, status: serialStatus(c, statusRaw) };
  return { ok: true, readings };
}

/** Writes a number as the simulator hint says, or with up to 6 significant digits. */
export function formatSerialNumber(value: number, format?: SerialSimulatedValue['format']): string {
  const sign = (text: string): string => (format?.sign && !text.startsWith('-') ? `+${text}` : text);
  if (!format) return String(Number(value.toPrecision(6)));
  if (format.style === 'fixed') return sign(value.toFixed(format.digits));
  const [mantissa, exponent = '0'] = value.toExponential(format.digits).split('e');
  const e = Number(exponent);
  return sign(`${mantissa}E${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`);
}

/** The raw status value the simulator prints for a state: the hint, a value the map gives that state, or the state's name. */
export function rawStatusFor(c: CompiledSerialProfile, state: DeviceState): string {
  const hinted = c.profile.simulate?.status?.[state];
  if (hinted !== undefined) return hinted;
  for (const [raw, s] of Object.entries(c.profile.status?.map ?? {})) if (s === state) return raw;
  return state.toUpperCase();
}

function fieldValue(f: ValueField, c: CompiledSerialProfile, reading: TraceReading): string {
  const hint = c.profile.simulate?.values?.[f.field];
  const from = hint?.from ?? f.field;
  const source = (reading as unknown as Record<string, unknown>)[from];
  if (typeof source !== 'number') {
    throw new Error(`serial profile ${c.profile.id}: no trace value for ${f.field} (add simulate.values.${f.field}.from, e.g. power_w)`);
  }
  const value = source * (hint?.scale ?? 1);
  const raw = (value - (f.offset ?? 0)) / (f.scale ?? 1);
  return formatSerialNumber(raw, hint?.format);
}

/**
 * The profile's template filled from a trace reading: each field group gets the reading's value (unscaled:
 * (value - offset) / scale), the status group a raw value for the reading's state. Throws when a group has neither.
 */
export function renderSerialLine(c: CompiledSerialProfile, reading: TraceReading): string {
  const values = new Map<string, string>();
  for (const g of c.groups) {
    const field = c.profile.fields.find((f) => f.path === g);
    if (field) values.set(g, fieldValue(field, c, reading));
    else if (c.profile.status?.path === g) values.set(g, rawStatusFor(c, reading.state));
    else throw new Error(`serial profile ${c.profile.id}: group "${g}" is neither a field nor the status; the simulator cannot fill it`);
  }
  return c.profile.template.replace(PLACEHOLDER, (whole, name: string) => values.get(name) ?? whole);
}

/** A line as compared and matched: without stray CR / LF at either end (a `\n` profile talking to a `\r\n` device). */
export function cleanLine(line: string): string {
  return line.replace(/^[\r\n]+|[\r\n]+$/g, '');
}

/** The text an `expect` step waits for, as a line (its terminator, if written in the step, removed). */
export function expectedLine(step: { expect: string }, terminator: string): string {
  const text = step.expect.endsWith(terminator) ? step.expect.slice(0, -terminator.length) : step.expect;
  return cleanLine(text);
}

/** The steps of a profile, split into what is sent and what is expected, for display: `PR1\r\n -> \x06, \x05`. */
export function describeSteps(steps: readonly SerialStep[]): string {
  return steps.map((s) => ('send' in s ? escapeSerial(s.send) : `-> ${escapeSerial(s.expect)}`)).join(', ');
}

/** Splits latin1 text into lines at a terminator. Lines are cleaned (cleanLine); empty lines are dropped. */
export class LineFramer {
  readonly #terminator: string;
  readonly #maxLength: number;
  #buffer = '';
  /** Characters thrown away because no terminator came within maxLength. */
  discarded = 0;

  constructor(terminator: string, maxLength = 4096) {
    if (terminator === '') throw new Error('line terminator is empty');
    this.#terminator = terminator;
    this.#maxLength = maxLength;
  }

  /** Adds received text; returns the complete lines it finished. */
  push(text: string): string[] {
    this.#buffer += text;
    const lines: string[] = [];
    for (;;) {
      const at = this.#buffer.indexOf(this.#terminator);
      if (at < 0) break;
      const line = cleanLine(this.#buffer.slice(0, at));
      this.#buffer = this.#buffer.slice(at + this.#terminator.length);
      if (line !== '') lines.push(line);
    }
    if (this.#buffer.length > this.#maxLength) {
      this.discarded += this.#buffer.length;
      this.#buffer = '';
    }
    return lines;
  }

  /** Drops a partial line (stale input before a new exchange). */
  clear(): void {
    this.#buffer = '';
  }

  /** The partial line received so far. */
  get pending(): string {
    return this.#buffer;
  }
}

const ESCAPES: Record<string, string> = { '\r': '\\r', '\n': '\\n', '\t': '\\t', '\\': '\\\\' };

/** Control and non-ASCII characters written visibly: `PR1\r\n`, `\x06`. */
export function escapeSerial(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    if (ESCAPES[ch] !== undefined) out += ESCAPES[ch];
    else if (code < 0x20 || (code >= 0x7f && code <= 0xff)) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

/** The inverse of escapeSerial: `\r`, `\n`, `\t`, `\\`, `\xNN` become the characters they name. */
export function unescapeSerial(text: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{2}|[rnt\\])/g, (_, e: string) => {
    switch (e) {
      case 'r':
        return '\r';
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case '\\':
        return '\\';
      default:
        return String.fromCharCode(parseInt(e.slice(1), 16));
    }
  });
}
