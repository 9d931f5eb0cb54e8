/**
 * Lists the serial ports of this machine, for `jishi ports`.
 *
 * First serialport's SerialPort.list() (udev on Linux: USB maker, serial number, vendor/product id). On Linux it
 * runs `udevadm`, which containers and minimal images lack (Debian package `udev`); there the spawn fails, and
 * it has been seen to escape as an uncaught exception. So on Linux it is only called when `udevadm` is on the
 * PATH, its failure (rejection, synchronous throw, no answer within timeoutMs) is caught, and when it fails or
 * finds nothing, the device directory is scanned instead: /dev/serial/by-id (links resolved), /dev/ttyUSB*,
 * /dev/ttyACM*, /dev/ttyS*. Built-in UARTs (ttyS*) are listed only when they exist (and, where sysfs tells, have
 * hardware behind them), marked as possibly not wired.
 */
import { accessSync, constants } from 'node:fs';
import { readdir, readFile, realpath } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { SerialPort } from 'serialport';

/** What SerialPort.list() gives per port (serialport's PortInfo). */
export interface ListedPortInfo {
  path: string;
  manufacturer?: string | undefined;
  serialNumber?: string | undefined;
  pnpId?: string | undefined;
  locationId?: string | undefined;
  vendorId?: string | undefined;
  productId?: string | undefined;
}

export interface SerialPortEntry {
  /** Device path, e.g. /dev/ttyUSB0. */
  path: string;
  /** Name under /dev/serial/by-id (stable across reboots and replugging), e.g. usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0. */
  byId?: string;
  manufacturer?: string;
  serialNumber?: string;
  /** USB vendor / product id, hex, e.g. 0403 / 6001. */
  vendorId?: string;
  productId?: string;
  /** udev: from SerialPort.list(); scan: found in the device directory. */
  source: 'udev' | 'scan';
  note?: string;
}

export interface SerialPortListing {
  ports: SerialPortEntry[];
  /** Where the list comes from. */
  source: 'udev' | 'scan';
  /** Why the udev listing was not used, and other remarks. */
  warnings: string[];
}

export interface ListSerialPortsOptions {
  /** The device directory to scan (default /dev); tests use a temp dir with fake device nodes and links. */
  devRoot?: string;
  /** sysfs root, to skip ttyS ports without hardware (default /sys; a missing file skips nothing). */
  sysRoot?: string;
  /** Replaces SerialPort.list() (tests inject a failing one); null skips it and only scans. */
  lister?: (() => Promise<ListedPortInfo[]>) | null;
  /** How long SerialPort.list() may take, ms (default 5000). */
  timeoutMs?: number;
}

export const UART_NOTE = 'built-in UART, may not be wired';

/** True when `name` is an executable file in a directory of $PATH. */
function onPath(name: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** SerialPort.list(), refusing up front where it would spawn a missing udevadm. */
export async function serialportList(): Promise<ListedPortInfo[]> {
  if (process.platform === 'linux' && !onPath('udevadm')) {
    throw new Error('udevadm is not installed (Debian package udev)');
  }
  return SerialPort.list();
}

/** Runs a lister so that nothing it does can escape: a throw, a rejection or no answer in time are all a failure. */
function guarded(lister: () => Promise<ListedPortInfo[]>, timeoutMs: number): Promise<ListedPortInfo[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    const done = (fn: () => void): void => {
      clearTimeout(timer);
      fn();
    };
    try {
      Promise.resolve(lister()).then(
        (ports) => done(() => resolve(Array.isArray(ports) ? ports : [])),
        (err: unknown) => done(() => reject(err instanceof Error ? err : new Error(String(err)))),
      );
    } catch (err) {
      done(() => reject(err instanceof Error ? err : new Error(String(err))));
    }
  });
}

const TTY_SCAN = /^tty(USB|ACM|S)(\d+)$/;

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** /dev/serial/by-id: resolved device path -> link name. */
async function byIdNames(devRoot: string): Promise<Map<string, string>> {
  const dir = join(devRoot, 'serial', 'by-id');
  const map = new Map<string, string>();
  for (const name of (await entries(dir)).sort()) {
    try {
      const target = await realpath(join(dir, name));
      if (!map.has(target)) map.set(target, name);
    } catch {
      // a dangling link: the device is gone
    }
  }
  return map;
}

/** False only when sysfs says the UART has no hardware (type 0, PORT_UNKNOWN). */
async function uartPresent(sysRoot: string, name: string): Promise<boolean> {
  try {
    return (await readFile(join(sysRoot, 'class', 'tty', name, 'type'), 'utf8')).trim() !== '0';
  } catch {
    return true;
  }
}

/** The ports found by scanning the device directory. */
export async function scanSerialPorts(devRoot = '/dev', sysRoot = '/sys'): Promise<SerialPortEntry[]> {
  const byId = await byIdNames(devRoot);
  const found = new Map<string, SerialPortEntry>();
  for (const name of await entries(devRoot)) {
    const m = TTY_SCAN.exec(name);
    if (!m) continue;
    const path = join(devRoot, name);
    if (m[1] === 'S' && !(await uartPresent(sysRoot, name))) continue;
    const entry: SerialPortEntry = { path, source: 'scan' };
    const id = byId.get(path);
    if (id !== undefined) entry.byId = id;
    if (m[1] === 'S') entry.note = UART_NOTE;
    found.set(path, entry);
  }
  // by-id links to devices of other names (ttyXRUSB0, ttyCH341USB0...).
  for (const [path, name] of byId) if (!found.has(path)) found.set(path, { path, byId: name, source: 'scan' });
  return sortPorts([...found.values()]);
}

function fromListed(info: ListedPortInfo, byId: Map<string, string>): SerialPortEntry {
  const entry: SerialPortEntry = { path: info.path, source: 'udev' };
  const id = info.pnpId && !info.pnpId.includes('\\') ? info.pnpId : byId.get(info.path);
  if (id) entry.byId = id;
  if (info.manufacturer) entry.manufacturer = info.manufacturer;
  if (info.serialNumber) entry.serialNumber = info.serialNumber;
  if (info.vendorId) entry.vendorId = info.vendorId;
  if (info.productId) entry.productId = info.productId;
  if (/(^|[/\\])ttyS\d+$/.test(info.path)) entry.note = UART_NOTE;
  return entry;
}

/** USB and ACM adapters first, then the rest; numbers in numeric order. */
function sortPorts(ports: SerialPortEntry[]): SerialPortEntry[] {
  const rank = (p: SerialPortEntry): number => (p.note === UART_NOTE ? 1 : 0);
  return ports.sort((a, b) => rank(a) - rank(b) || a.path.localeCompare(b.path, 'en', { numeric: true }));
}

/** Lists serial ports: udev first, the device directory scan when that fails or finds nothing. Never rejects. */
export async function listSerialPorts(options: ListSerialPortsOptions = {}): Promise<SerialPortListing> {
  const devRoot = options.devRoot ?? '/dev';
  const sysRoot = options.sysRoot ?? '/sys';
  const warnings: string[] = [];
  const lister = options.lister === undefined ? serialportList : options.lister;
  if (lister !== null) {
    try {
      const listed = await guarded(lister, options.timeoutMs ?? 5000);
      const usable = listed.filter((p) => typeof p?.path === 'string' && p.path !== '');
      if (usable.length > 0) {
        const byId = await byIdNames(devRoot);
        return { ports: sortPorts(usable.map((p) => fromListed(p, byId))), source: 'udev', warnings };
      }
      warnings.push(`the udev listing found no ports; scanned ${devRoot} instead`);
    } catch (err) {
      warnings.push(`the udev listing failed (${(err as Error).message}); scanned ${devRoot} instead`);
    }
  }
  try {
    return { ports: await scanSerialPorts(devRoot, sysRoot), source: 'scan', warnings };
  } catch (err) {
    warnings.push(`scanning ${devRoot} failed: ${(err as Error).message}`);
    return { ports: [], source: 'scan', warnings };
  }
}

/** The line telling how to use a port in a transport URL. */
export function portsHint(ports: readonly SerialPortEntry[]): string {
  const adapter = ports.find((p) => p.note !== UART_NOTE) ?? ports[0];
  const path = adapter?.path ?? '/dev/ttyUSB0';
  return `use: serial://${path.startsWith('/') ? '' : '/'}${path}?baud=9600 or modbus-rtu://${path.startsWith('/') ? '' : '/'}${path}?baud=9600&unit=1`;
}
