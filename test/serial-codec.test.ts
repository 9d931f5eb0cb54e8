/**
 * The serial codec: golden lines of every serial profile in, readings and status out; SCPI numbers; profile
 * checks; and the inverse used by the simulator (a template rendered from a trace parses back to the trace).
 */
import { describe, expect, it } from 'vitest';
import { genericScpi } from '../devices/generic/scpi.ts';
import { genericStatusLine } from '../devices/generic/status-line.ts';
import { mettlerMtSics } from '../devices/mettler/mt-sics.ts';
import { pfeifferTpg26x } from '../devices/pfeiffer/tpg26x.ts';
import type { SerialProfile } from '../devices/profile.ts';
import {
  compileSerialProfile,
  escapeSerial,
  expectedLine,
  formatSerialNumber,
  LineFramer,
  matchSerialLine,
  parseSerialNumber,
  patternGroups,
  rawStatusFor,
  renderSerialLine,
  serialProfileProblems,
  serialStatus,
  templatePlaceholders,
  unescapeSerial,
  type SerialMatch,
} from '../devices/serial-codec.ts';
import { createTrace, DEMO_TRACES, TRACE_STATES, type TraceReading } from '../devices/traces.ts';

const PROFILES: readonly SerialProfile[] = [genericScpi, genericStatusLine, pfeifferTpg26x, mettlerMtSics];

function decode(profile: SerialProfile, line: string): SerialMatch {
  return matchSerialLine(compileSerialProfile(profile), line);
}

function ok(profile: SerialProfile, line: string): { readings: Record<string, number>; status?: string } {
  const m = decode(profile, line);
  if (!m.ok) throw new Error(`${profile.id}: "${line}" did not decode: ${m.reason}`);
  return { readings: m.readings, ...(m.status === undefined ? {} : { status: m.status }) };
}

describe('SCPI numbers (NR1, NR2, NR3)', () => {
  it.each([
    ['42', 42],
    ['-7', -7],
    ['+812.5', 812.5],
    ['.5', 0.5],
    ['5.', 5],
    ['+1.23450E+02', 123.45],
    ['+1.2E-03', 0.0012],
    ['-4.5e2', -450],
    ['1E3', 1000],
    ['  3.25  ', 3.25],
    ['0', 0],
  ])('%j -> %d', (text, value) => {
    expect(parseSerialNumber(text)).toBeCloseTo(value, 12);
  });

  it.each(['', ' ', 'abc', 'NaN', 'nan', 'Infinity', '-Infinity', '0x10', '1e', '1.2.3', '+-1', '1,5', '.', 'E5', '1 2', '9.9E37', '-9.9E+37', '9.91E+37', '1e400'])(
    'rejects %j',
    (text) => {
      expect(parseSerialNumber(text)).toBeUndefined();
    },
  );

  it('writes numbers as the simulator hints say', () => {
    expect(formatSerialNumber(123.45, { style: 'exponential', digits: 5, sign: true })).toBe('+1.23450E+02');
    expect(formatSerialNumber(0.000123, { style: 'exponential', digits: 4 })).toBe('1.2300E-04');
    expect(formatSerialNumber(-2.5e-12, { style: 'exponential', digits: 1 })).toBe('-2.5E-12');
    expect(formatSerialNumber(99.999, { style: 'fixed', digits: 2 })).toBe('100.00');
    expect(formatSerialNumber(1.5, { style: 'fixed', digits: 1, sign: true })).toBe('+1.5');
    expect(formatSerialNumber(1 / 3)).toBe('0.333333');
    for (const text of ['+1.23450E+02', '1.2300E-04', '100.00', '0.333333']) expect(parseSerialNumber(text)).toBeDefined();
  });
});

describe('golden lines', () => {
  it('generic-scpi: one NR1/NR2/NR3 number -> power_w', () => {
    expect(ok(genericScpi, '+1.23450E+02')).toEqual({ readings: { power_w: 123.45 } });
    expect(ok(genericScpi, '812')).toEqual({ readings: { power_w: 812 } });
    expect(ok(genericScpi, ' 0.5 ')).toEqual({ readings: { power_w: 0.5 } });
    for (const bad of ['9.91E+37', '+9.9E+37', 'ERR', '', '1,2', '-113,"Undefined header"']) expect(decode(genericScpi, bad).ok).toBe(false);
  });

  it('generic-status-line: status word mapped, power optional, ERR left to the fault words', () => {
    expect(ok(genericStatusLine, 'STATUS RUN P=812.5')).toEqual({ readings: { power_w: 812.5 }, status: 'active: RUN' });
    expect(ok(genericStatusLine, 'STATUS READY P=95.0')).toEqual({ readings: { power_w: 95 }, status: 'standby: READY' });
    expect(ok(genericStatusLine, 'STATUS idle P=3')).toEqual({ readings: { power_w: 3 }, status: 'standby: idle' });
    expect(ok(genericStatusLine, 'STATUS OFF')).toEqual({ readings: {}, status: 'off: OFF' });
    expect(ok(genericStatusLine, 'STATUS ERR 12')).toEqual({ readings: {}, status: 'ERR 12' });
    expect(ok(genericStatusLine, 'STATUS ERR 12 P=40')).toEqual({ readings: { power_w: 40 }, status: 'ERR 12' });
    expect(ok(genericStatusLine, 'STATUS WARMUP P=1.2E+02')).toEqual({ readings: { power_w: 120 }, status: 'WARMUP' });
    const bad = decode(genericStatusLine, 'STATUS RUN P=lots');
    expect(bad.ok).toBe(false);
    expect(decode(genericStatusLine, 'hello').ok).toBe(false);
  });

  it('pfeiffer-tpg26x: status,value in mbar = hPa; the value only with status 0..2', () => {
    expect(ok(pfeifferTpg26x, '0,+1.0000E+03')).toEqual({ readings: { pressure_hpa: 1000 }, status: '0' });
    expect(ok(pfeifferTpg26x, '0,2.3400E-05')).toEqual({ readings: { pressure_hpa: 2.34e-5 }, status: '0' });
    expect(ok(pfeifferTpg26x, '1,1.0000E-04')).toEqual({ readings: { pressure_hpa: 1e-4 }, status: '1' });
    expect(ok(pfeifferTpg26x, '2,1.1000E+03')).toEqual({ readings: { pressure_hpa: 1100 }, status: '2' });
    expect(ok(pfeifferTpg26x, '3,0.0000E+00')).toEqual({ readings: {}, status: 'fault: 3' });
    expect(ok(pfeifferTpg26x, '4,2.0000E-02')).toEqual({ readings: {}, status: 'off: 4' });
    expect(ok(pfeifferTpg26x, '5,0.0000E+00')).toEqual({ readings: {}, status: 'fault: 5' });
    expect(ok(pfeifferTpg26x, '6,0.0000E+00')).toEqual({ readings: {}, status: 'fault: 6' });
    for (const bad of ['0,abc', '0,', '\x15', '\x06', 'PR1', '00,1.0E+00']) expect(decode(pfeifferTpg26x, bad).ok, JSON.stringify(bad)).toBe(false);
  });

  it('mettler-mt-sics: weight in g and the stability char', () => {
    expect(ok(mettlerMtSics, 'S S      100.00 g')).toEqual({ readings: { mass_g: 100 }, status: 'standby: S' });
    expect(ok(mettlerMtSics, 'S D     -0.02 g')).toEqual({ readings: { mass_g: -0.02 }, status: 'active: D' });
    expect(ok(mettlerMtSics, 'S +')).toEqual({ readings: {}, status: 'fault: +' });
    expect(ok(mettlerMtSics, 'S -')).toEqual({ readings: {}, status: 'fault: -' });
    expect(ok(mettlerMtSics, 'S I')).toEqual({ readings: {}, status: 'I' });
    for (const bad of ['S S      100.00 kg', 'ES', 'ET', 'EL', 'S S      1O0.00 g']) expect(decode(mettlerMtSics, bad).ok, bad).toBe(false);
  });

  it('applies scale and offset, and truncates a long status to 128 characters', () => {
    const p: SerialProfile = {
      ...genericStatusLine,
      id: 'scaled',
      pattern: String.raw`^T=(?<t>\S+) S=(?<status>.*)$`,
      fields: [{ field: 'temperature_c', path: 't', unit: '°C', scale: 0.1, offset: -40 }],
      status: { path: 'status' },
      template: 'T={t} S={status}',
    };
    const m = ok(p, `T=650 S=${'x'.repeat(300)}`);
    expect(m.readings.temperature_c).toBeCloseTo(25, 12);
    expect(m.status).toHaveLength(128);
  });
});

describe('profile checks', () => {
  it('every serial profile is consistent: groups, fields, status, template placeholders', () => {
    for (const p of PROFILES) {
      expect(serialProfileProblems(p), p.id).toEqual([]);
      expect(new Set(templatePlaceholders(p.template)), p.id).toEqual(new Set(patternGroups(p.pattern)));
      for (const f of p.fields) expect(f.field, p.id).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*_(w|hpa|g)$/);
      expect(p.transports).toEqual(['serial']);
      expect(p.source.length).toBeGreaterThan(20);
    }
  });

  it('reports every problem of a broken profile', () => {
    const broken: SerialProfile = {
      ...genericScpi,
      steps: [{ expect: '\x06' }],
      pattern: String.raw`^(?<power>\d+)$`,
      fields: [{ field: 'power_w', path: 'watts', unit: 'W', scale: 0 }],
      status: { path: 'state' },
      template: 'nothing',
    };
    const problems = serialProfileProblems(broken);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('no group "watts"'),
        expect.stringContaining('scale'),
        expect.stringContaining('no group "state"'),
        expect.stringContaining('{power}'),
        expect.stringContaining('sends a command'),
      ]),
    );
    expect(() => compileSerialProfile(broken)).toThrow(/generic-scpi/);
    expect(serialProfileProblems({ ...genericScpi, pattern: '(?<x' })[0]).toMatch(/not a valid regular expression/);
  });

  it('lookbehinds are not named groups', () => {
    expect(patternGroups(pfeifferTpg26x.pattern)).toEqual(['status', 'pressure']);
  });
});

describe('rendering a template from a trace (the simulator)', () => {
  const trace = createTrace(DEMO_TRACES['flow-cytometer'], { seed: 11, epochMs: 0 });
  const instants = [0, 17_000, 55_000, 81_000, 123_456, 170_000];

  it.each(PROFILES.map((p) => [p.id, p] as const))('%s: every state and instant parses back to the trace', (_id, profile) => {
    const c = compileSerialProfile(profile);
    for (const t of instants) {
      for (const state of TRACE_STATES) {
        const reading: TraceReading = { ...trace.at(t), state };
        const line = renderSerialLine(c, reading);
        const m = matchSerialLine(c, line);
        if (!m.ok) throw new Error(`${profile.id} ${state}: "${escapeSerial(line)}" does not parse back: ${m.reason}`);
        // The status is the raw value for the state, mapped as a device sends it.
        if (profile.status) expect(m.status, `${profile.id} ${state}`).toBe(serialStatus(c, rawStatusFor(c, state)));
        else expect(m.status).toBeUndefined();
        const mapped = profile.status?.map?.[rawStatusFor(c, state)];
        if (mapped !== undefined && !(profile.id === 'mettler-mt-sics' && state === 'off')) expect(mapped).toBe(state);
        for (const f of profile.fields) {
          const hint = profile.simulate?.values?.[f.field];
          const want = (reading as unknown as Record<string, number>)[hint?.from ?? f.field]! * (hint?.scale ?? 1);
          const got = m.readings[f.field];
          if (profile.id === 'pfeiffer-tpg26x' && (state === 'off' || state === 'fault')) {
            expect(got, 'no pressure from a gauge that is off or in error').toBeUndefined();
            continue;
          }
          expect(got, `${profile.id} ${f.field} at ${t} ${state}`).toBeDefined();
          const digits = hint?.format?.digits ?? 5;
          const tolerance = hint?.format?.style === 'fixed' ? 0.5 * 10 ** -digits + 1e-9 : Math.abs(want) * 0.5 * 10 ** -digits + 1e-12;
          expect(Math.abs(got! - want), `${profile.id} ${f.field}: ${got} vs ${want}`).toBeLessThanOrEqual(tolerance);
        }
      }
    }
  });

  it('renders the status-line states as the profile maps them', () => {
    const c = compileSerialProfile(genericStatusLine);
    const at = (state: TraceReading['state']): string => renderSerialLine(c, { ...trace.at(60_000), state });
    expect(at('active')).toMatch(/^STATUS RUN P=\d+\.\d$/);
    expect(at('standby')).toMatch(/^STATUS READY P=/);
    expect(at('off')).toMatch(/^STATUS OFF P=/);
    expect(at('fault')).toMatch(/^STATUS ERR 12 P=/);
  });

  it('works without simulate hints, for a profile given as data', () => {
    const p: SerialProfile = { ...genericStatusLine, id: 'plain', simulate: undefined };
    const c = compileSerialProfile(p);
    const reading = trace.at(100_000);
    const m = matchSerialLine(c, renderSerialLine(c, { ...reading, state: 'fault' }));
    expect(m).toMatchObject({ ok: true, status: 'FAULT' });
    expect(m.ok && m.readings.power_w).toBeCloseTo(reading.power_w, 3);
  });

  it('names a field the trace cannot feed', () => {
    const p: SerialProfile = { ...mettlerMtSics, id: 'no-hint', simulate: undefined };
    expect(() => renderSerialLine(compileSerialProfile(p), trace.at(0))).toThrow(/mass_g/);
  });
});

describe('lines and escapes', () => {
  it('frames lines across chunks, drops empty ones and stray CR', () => {
    const f = new LineFramer('\n');
    expect(f.push('STATUS RU')).toEqual([]);
    expect(f.pending).toBe('STATUS RU');
    expect(f.push('N P=1\r\n\r\nSTATUS OFF\nSTA')).toEqual(['STATUS RUN P=1', 'STATUS OFF']);
    f.clear();
    expect(f.push('TUS X\n')).toEqual(['TUS X']);
    const crlf = new LineFramer('\r\n');
    expect(crlf.push('\x06\r\n0,1.0E+00\r')).toEqual(['\x06']);
    expect(crlf.push('\n')).toEqual(['0,1.0E+00']);
    const small = new LineFramer('\n', 8);
    expect(small.push('0123456789')).toEqual([]);
    expect(small.discarded).toBe(10);
    expect(small.push('ok\n')).toEqual(['ok']);
  });

  it('escapes control characters and back', () => {
    expect(escapeSerial('PR1\r\n')).toBe('PR1\\r\\n');
    expect(escapeSerial('\x06\x05\x15\\')).toBe('\\x06\\x05\\x15\\\\');
    for (const s of ['PR1\r\n', '\x05', 'a\\b\t\x7f\xe9']) expect(unescapeSerial(escapeSerial(s))).toBe(s);
    expect(unescapeSerial('SI\\r\\n')).toBe('SI\r\n');
  });

  it('compares expect steps as lines', () => {
    expect(expectedLine({ expect: '\x06' }, '\r\n')).toBe('\x06');
    expect(expectedLine({ expect: '\x06\r\n' }, '\r\n')).toBe('\x06');
  });
});
