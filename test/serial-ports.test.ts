/**
 * Listing serial ports: the scan of a (temp) device directory with fake device nodes and by-id links, the udev
 * listing failing in every way (rejecting, throwing, hanging, finding nothing) falling back to the scan, and
 * `jishi ports` output.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSerialPorts, portsHint, scanSerialPorts, serialportList, UART_NOTE, type ListedPortInfo } from '../agent/serial-ports.ts';
import { runPorts } from '../cli/ports-command.ts';

const FTDI = 'usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0';
const CDC = 'usb-Arduino__www.arduino.cc__0043_7543331383535171C1E1-if00';
const EXAR = 'usb-Exar_XR21V1410_USB_UART-if00';

let root: string;
let dev: string;
let sys: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'jishi-ports-'));
  dev = join(root, 'dev');
  sys = join(root, 'sys');
  await mkdir(join(dev, 'serial', 'by-id'), { recursive: true });
  for (const name of ['ttyUSB0', 'ttyUSB1', 'ttyUSB10', 'ttyUSB2', 'ttyACM0', 'ttyS0', 'ttyS1', 'ttyS10', 'tty0', 'tty', 'ttyXRUSB0', 'null']) {
    await writeFile(join(dev, name), '');
  }
  await symlink('../../ttyUSB0', join(dev, 'serial', 'by-id', FTDI));
  await symlink('../../ttyACM0', join(dev, 'serial', 'by-id', CDC));
  await symlink('../../ttyXRUSB0', join(dev, 'serial', 'by-id', EXAR));
  await symlink('../../ttyUSB7', join(dev, 'serial', 'by-id', 'usb-gone-if00-port0')); // dangling: unplugged
  // sysfs: ttyS1 has no hardware (type 0), ttyS0 is a 16550A (4), ttyS10 says nothing.
  for (const [name, type] of [['ttyS0', '4'], ['ttyS1', '0']] as const) {
    await mkdir(join(sys, 'class', 'tty', name), { recursive: true });
    await writeFile(join(sys, 'class', 'tty', name, 'type'), `${type}\n`);
  }
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

describe('scanning the device directory', () => {
  it('finds USB, ACM and wired UART ports, with by-id names resolved, adapters first', async () => {
    const ports = await scanSerialPorts(dev, sys);
    expect(ports.map((p) => p.path.slice(dev.length + 1))).toEqual(['ttyACM0', 'ttyUSB0', 'ttyUSB1', 'ttyUSB2', 'ttyUSB10', 'ttyXRUSB0', 'ttyS0', 'ttyS10']);
    expect(ports.find((p) => p.path.endsWith('/ttyUSB0'))).toEqual({ path: join(dev, 'ttyUSB0'), byId: FTDI, source: 'scan' });
    expect(ports.find((p) => p.path.endsWith('/ttyACM0'))?.byId).toBe(CDC);
    expect(ports.find((p) => p.path.endsWith('/ttyXRUSB0'))?.byId).toBe(EXAR);
    expect(ports.filter((p) => p.note === UART_NOTE).map((p) => p.path)).toEqual([join(dev, 'ttyS0'), join(dev, 'ttyS10')]);
    expect(ports.every((p) => p.source === 'scan')).toBe(true);
  });

  it('an empty or missing directory gives no ports', async () => {
    expect(await scanSerialPorts(join(root, 'nowhere'), sys)).toEqual([]);
  });
});

describe('listSerialPorts', () => {
  const fails: Array<[string, () => Promise<ListedPortInfo[]>]> = [
    ['rejects', () => Promise.reject(new Error('spawn udevadm ENOENT'))],
    [
      'throws synchronously',
      () => {
        throw new Error('boom');
      },
    ],
    ['never answers', () => new Promise<ListedPortInfo[]>(() => undefined)],
    ['rejects with a non-error', () => Promise.reject('weird')],
  ];

  it.each(fails)('falls back to the scan when the udev listing %s', async (_what, lister) => {
    const listing = await listSerialPorts({ devRoot: dev, sysRoot: sys, lister, timeoutMs: 50 });
    expect(listing.source).toBe('scan');
    expect(listing.ports.length).toBe(8);
    expect(listing.warnings[0]).toMatch(/udev listing failed/);
  });

  it('falls back to the scan when the udev listing finds nothing', async () => {
    const listing = await listSerialPorts({ devRoot: dev, sysRoot: sys, lister: async () => [] });
    expect(listing.source).toBe('scan');
    expect(listing.warnings[0]).toMatch(/found no ports/);
    expect(listing.ports.length).toBe(8);
  });

  it('takes the udev listing when it has ports (by-id from pnpId or the by-id links)', async () => {
    const lister = async (): Promise<ListedPortInfo[]> => [
      { path: join(dev, 'ttyUSB0'), manufacturer: 'FTDI', serialNumber: 'A50285BI', vendorId: '0403', productId: '6001', pnpId: undefined },
      { path: join(dev, 'ttyACM0'), manufacturer: 'Arduino', pnpId: 'usb-custom-name-if00', vendorId: '2341', productId: '0043' },
      { path: join(dev, 'ttyS3') },
    ];
    const listing = await listSerialPorts({ devRoot: dev, sysRoot: sys, lister });
    expect(listing.source).toBe('udev');
    expect(listing.warnings).toEqual([]);
    expect(listing.ports).toEqual([
      { path: join(dev, 'ttyACM0'), byId: 'usb-custom-name-if00', manufacturer: 'Arduino', vendorId: '2341', productId: '0043', source: 'udev' },
      { path: join(dev, 'ttyUSB0'), byId: FTDI, manufacturer: 'FTDI', serialNumber: 'A50285BI', vendorId: '0403', productId: '6001', source: 'udev' },
      { path: join(dev, 'ttyS3'), source: 'udev', note: UART_NOTE },
    ]);
  });

  it('the default lister never throws, with or without udevadm', async () => {
    const listing = await listSerialPorts({ devRoot: dev, sysRoot: sys });
    expect(['udev', 'scan']).toContain(listing.source);
  });

  it.runIf(process.platform === 'linux')('does not spawn udevadm when it is not on the PATH', async () => {
    const saved = process.env.PATH;
    process.env.PATH = join(root, 'empty-bin');
    try {
      await expect(serialportList()).rejects.toThrow(/udevadm is not installed/);
      const listing = await listSerialPorts({ devRoot: dev, sysRoot: sys });
      expect(listing.source).toBe('scan');
      expect(listing.warnings[0]).toMatch(/udevadm is not installed/);
    } finally {
      process.env.PATH = saved;
    }
  });

  it('hints at a transport URL with the first adapter', () => {
    expect(portsHint([])).toBe('use: serial:///dev/ttyUSB0?baud=9600 or modbus-rtu:///dev/ttyUSB0?baud=9600&unit=1');
    expect(portsHint([{ path: '/dev/ttyS0', source: 'scan', note: UART_NOTE }, { path: '/dev/ttyACM1', source: 'scan' }])).toBe(
      'use: serial:///dev/ttyACM1?baud=9600 or modbus-rtu:///dev/ttyACM1?baud=9600&unit=1',
    );
    expect(portsHint([{ path: 'COM3', source: 'udev' }])).toBe('use: serial:///COM3?baud=9600 or modbus-rtu:///COM3?baud=9600&unit=1');
  });
});

describe('jishi ports', () => {
  const failing = (): Promise<ListedPortInfo[]> => Promise.reject(new Error('spawn udevadm ENOENT'));

  it('prints a table with a hint line', async () => {
    const out = new Capture();
    await runPorts({ devRoot: dev, sysRoot: sys, lister: failing }, out);
    const lines = out.text.split('\n');
    expect(lines[0]).toMatch(/^note: the udev listing failed/);
    expect(lines[1]).toMatch(/^path\s+by-id\s+manufacturer\s+serial\s+vid:pid\s+source\s+note$/);
    expect(out.text).toMatch(new RegExp(`/ttyUSB0 +${FTDI} +scan\\n`));
    expect(out.text).toMatch(/ttyS0 .*scan\s+built-in UART, may not be wired/);
    expect(out.text).toContain(`use: serial://${join(dev, 'ttyACM0')}?baud=9600 or modbus-rtu://${join(dev, 'ttyACM0')}?baud=9600&unit=1`);
    expect(out.text).toContain(`serial://${join(dev, 'serial', 'by-id', CDC)}?baud=9600`);
  });

  it('prints JSON with --json', async () => {
    const out = new Capture();
    await runPorts({ json: true, devRoot: dev, sysRoot: sys, lister: failing }, out);
    const parsed = JSON.parse(out.text) as { ports: Array<{ path: string }>; source: string; warnings: string[]; hint: string };
    expect(parsed.source).toBe('scan');
    expect(parsed.ports).toHaveLength(8);
    expect(parsed.hint).toMatch(/^use: serial:\/\//);
  });

  it('says so when there is no port', async () => {
    const out = new Capture();
    await runPorts({ devRoot: join(root, 'nowhere'), lister: null }, out);
    expect(out.text).toMatch(/no serial ports found/);
    expect(out.text).toContain('use: serial:///dev/ttyUSB0?baud=9600 or modbus-rtu:///dev/ttyUSB0?baud=9600&unit=1');
  });
});
