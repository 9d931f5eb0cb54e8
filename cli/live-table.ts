/** The demo's compact live table: one line per instrument, drawn from GET /api/v1/instruments. */
import type { InstrumentState, InstrumentView } from '../common/wire.ts';

const COLORS: Record<InstrumentState, string> = {
  off: '\x1b[90m', // grey
  standby: '\x1b[33m', // yellow
  active: '\x1b[32m', // green
  fault: '\x1b[31m', // red
  unknown: '\x1b[35m', // magenta
};
const RESET = '\x1b[0m';

/** Display width of a string: CJK characters take two terminal columns. */
export function displayWidth(text: string): number {
  let w = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    w += (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) ||
      (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6) ? 2 : 1;
  }
  return w;
}

function pad(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(text)));
  return align === 'left' ? text + fill : fill + text;
}

export function formatAge(ms: number): string {
  if (ms < 0) ms = 0;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m % 60).padStart(2, '0')}m`;
}

function num(value: number | undefined, digits: number): string {
  return value === undefined ? '-' : value.toFixed(digits);
}

export interface TableOptions {
  color: boolean;
  now: number;
  /** Effective (session) hours today per instrument id, when known. */
  effectiveToday?: ReadonlyMap<string, number>;
}

function hm(hours: number | undefined): string {
  if (hours === undefined) return '-';
  const minutes = Math.round(hours * 60);
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, '0')}`;
}

/** Renders the instruments as aligned text lines (no trailing newline). */
export function renderTable(instruments: readonly InstrumentView[], options: TableOptions): string {
  const header = ['instrument', 'name', 'state', 'for', 'power W', 'energy kWh', 'V', 'seen', 'effective today'];
  const rows = instruments.map((i) => {
    const r = i.last_reading?.readings ?? {};
    return {
      state: i.state,
      cells: [
        i.id,
        i.name ?? '',
        i.state,
        i.state_since === null ? '-' : formatAge(options.now - i.state_since),
        num(r.power_w, 1),
        num(r.energy_kwh, 3),
        num(r.voltage_v, 1),
        i.last_seen === null ? 'never' : `${formatAge(options.now - i.last_seen)} ago`,
        hm(options.effectiveToday?.get(i.id)),
      ],
    };
  });
  const widths = header.map((h, c) => Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r.cells[c] ?? ''))));
  const right = new Set([3, 4, 5, 6, 7, 8]);
  const line = (cells: string[]): string => cells.map((cell, c) => pad(cell, widths[c] ?? 0, right.has(c) ? 'right' : 'left')).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const row of rows) {
    let text = line(row.cells);
    if (options.color) {
      const stateCell = pad(row.state, widths[2] ?? 0);
      const at = line(row.cells.slice(0, 2)).length + 2;
      text = text.slice(0, at) + COLORS[row.state] + stateCell + RESET + text.slice(at + stateCell.length);
    }
    out.push(text);
  }
  if (rows.length === 0) out.push('(no instrument has reported yet)');
  return out.join('\n');
}
