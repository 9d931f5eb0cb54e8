/** `jishi ports`: the serial ports of this machine, for serial:// and modbus-rtu:// transport URLs. */
import { join } from 'node:path';
import { listSerialPorts, portsHint, type ListSerialPortsOptions } from '../agent/serial-ports.ts';
import { displayWidth } from './live-table.ts';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => displayWidth(r[c] ?? ''))));
  return rows.map((r) => r.map((cell, c) => cell + ' '.repeat(widths[c]! - displayWidth(cell))).join('  ').trimEnd()).join('\n');
}

/**
 * Prints the serial ports as a table (or JSON with `json`). `devRoot`, `sysRoot` and `lister` are for tests
 * (see listSerialPorts); never rejects because a listing method failed.
 */
export async function runPorts(opts: { json?: boolean } & ListSerialPortsOptions, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const { json, ...listOptions } = opts;
  const listing = await listSerialPorts(listOptions);
  const hint = portsHint(listing.ports);
  if (json) {
    out.write(`${JSON.stringify({ ...listing, hint }, null, 2)}\n`);
    return;
  }
  for (const w of listing.warnings) out.write(`note: ${w}\n`);
  if (listing.ports.length === 0) {
    out.write(`no serial ports found (USB adapters appear as /dev/ttyUSB* or /dev/ttyACM* when plugged in)\n${hint}\n`);
    return;
  }
  const rows = [
    ['path', 'by-id', 'manufacturer', 'serial', 'vid:pid', 'source', 'note'],
    ...listing.ports.map((p) => [
      p.path,
      p.byId ?? '',
      p.manufacturer ?? '',
      p.serialNumber ?? '',
      p.vendorId || p.productId ? `${p.vendorId ?? '?'}:${p.productId ?? '?'}` : '',
      p.source,
      p.note ?? '',
    ]),
  ];
  out.write(`${table(rows)}\n\n${hint}\n`);
  const stable = listing.ports.find((p) => p.byId !== undefined);
  if (stable) {
    const byIdPath = join(opts.devRoot ?? '/dev', 'serial', 'by-id', stable.byId!);
    out.write(`by-id paths stay the same across reboots and replugging: serial://${byIdPath}?baud=9600\n`);
  }
}
