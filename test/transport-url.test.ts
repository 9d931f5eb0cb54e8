import { describe, expect, it } from 'vitest';
import { formatTransport, parseTransportUrl } from '../common/transport-url.ts';

describe('parseTransportUrl', () => {
  it('parses modbus-tcp with defaults', () => {
    const r = parseTransportUrl('modbus-tcp://192.0.2.10');
    expect(r).toEqual({ ok: true, transport: { kind: 'modbus-tcp', host: '192.0.2.10', port: 502, unit: 1, timeoutMs: 1000, framing: 'tcp' } });
  });

  it('parses modbus-tcp with port, unit and timeout', () => {
    const r = parseTransportUrl('modbus-tcp://meter.lab:1502?unit=7&timeout=250');
    expect(r.ok && r.transport).toEqual({ kind: 'modbus-tcp', host: 'meter.lab', port: 1502, unit: 7, timeoutMs: 250, framing: 'tcp' });
  });

  it('parses RTU over TCP (framing=rtu) and rejects an unknown framing', () => {
    const r = parseTransportUrl('modbus-tcp://192.0.2.20:4001?unit=3&framing=rtu');
    expect(r.ok && r.transport).toMatchObject({ kind: 'modbus-tcp', port: 4001, unit: 3, framing: 'rtu' });
    expect(r.ok && formatTransport(r.transport)).toBe('modbus-tcp://192.0.2.20:4001?unit=3&framing=rtu');
    const bad = parseTransportUrl('modbus-tcp://192.0.2.20?framing=ascii');
    expect(bad).toEqual({ ok: false, errors: ['framing must be tcp or rtu, got "ascii"'] });
  });

  it('uses the profile default unit when the URL has none', () => {
    const r = parseTransportUrl('modbus-tcp://127.0.0.1:502', { unit: 3 });
    expect(r.ok && r.transport.kind === 'modbus-tcp' && r.transport.unit).toBe(3);
  });

  it('parses modbus-rtu on a device path with serial line settings', () => {
    const r = parseTransportUrl('modbus-rtu:///dev/ttyUSB0?baud=9600&unit=2&parity=even');
    expect(r.ok && r.transport).toEqual({
      kind: 'modbus-rtu', path: '/dev/ttyUSB0', baud: 9600, parity: 'even', dataBits: 8, stopBits: 1, unit: 2, timeoutMs: 1000,
    });
  });

  it('takes the baud rate from the profile default for RTU', () => {
    const r = parseTransportUrl('modbus-rtu:///dev/ttyUSB0', { baud: 2400 });
    expect(r.ok && r.transport.kind === 'modbus-rtu' && r.transport.baud).toBe(2400);
  });

  it('accepts Windows COM ports', () => {
    const r = parseTransportUrl('serial:///COM3?baud=115200');
    expect(r.ok && r.transport.kind === 'serial' && r.transport.path).toBe('COM3');
  });

  it('parses mqtt with a topic and credentials', () => {
    const r = parseTransportUrl('mqtt://user:p%40ss@broker.lab:1884/tele/plug1/SENSOR');
    expect(r.ok && r.transport).toEqual({
      kind: 'mqtt', secure: false, host: 'broker.lab', port: 1884, topic: 'tele/plug1/SENSOR', username: 'user', password: 'p@ss',
    });
  });

  it('reports every problem of a URL at once', () => {
    const r = parseTransportUrl('modbus-tcp://127.0.0.1:502?unit=300&timeout=abc&baud=9600');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(3);
    expect(r.errors.join('\n')).toMatch(/unit must be between 0 and 255, got 300/);
    expect(r.errors.join('\n')).toMatch(/timeout must be an integer, got "abc"/);
    expect(r.errors.join('\n')).toMatch(/unknown parameter "baud"/);
  });

  it('rejects unknown schemes and non-URLs with a hint', () => {
    const a = parseTransportUrl('modbus://127.0.0.1');
    expect(!a.ok && a.errors[0]).toMatch(/unknown transport "modbus:"/);
    const b = parseTransportUrl('127.0.0.1:502');
    expect(b.ok).toBe(false);
    const c = parseTransportUrl('not a url');
    expect(!c.ok && c.errors[0]).toMatch(/is not a URL/);
  });

  it('rejects repeated parameters, port 0 and an unencoded #', () => {
    const r = parseTransportUrl('modbus-tcp://127.0.0.1:0?unit=1&unit=2');
    expect(!r.ok && r.errors).toEqual(['port 0 is not a device port', 'parameter "unit" is given more than once']);
    const m = parseTransportUrl('mqtt://127.0.0.1/tele/#');
    expect(m.ok ? "" : m.errors.join()).toMatch(/write it as %23/);
    const ok = parseTransportUrl('mqtt://127.0.0.1/tele/%23');
    expect(ok.ok && ok.transport.kind === 'mqtt' && ok.transport.topic).toBe('tele/#');
  });

  it('rejects a serial URL written with two slashes', () => {
    const r = parseTransportUrl('serial://dev/ttyS0');
    expect(!r.ok && r.errors.join()).toMatch(/three slashes/);
  });

  it('formats transports back without credentials', () => {
    const r = parseTransportUrl('mqtt://user:secret@broker:1883/a/b');
    expect(r.ok && formatTransport(r.transport)).toBe('mqtt://broker:1883/a/b');
    const t = parseTransportUrl('modbus-tcp://127.0.0.1:5020?unit=4');
    expect(t.ok && formatTransport(t.transport)).toBe('modbus-tcp://127.0.0.1:5020?unit=4');
  });
});
