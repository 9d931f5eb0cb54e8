/**
 * `jishi export annual` and `jishi bookings import`: the annual assessment export and the booking import, run on
 * the collector's store with the collector stopped (like `jishi recompute`), or against a running collector
 * through its API (GET /api/v1/exports/annual, POST /api/v1/bookings).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { systemClock } from '../common/clock.ts';
import { syncRegistryFromConfig } from '../collector/sharing/registry.ts';
import { buildAnnualReport, isReportYear } from '../collector/sharing/annual.ts';
import { formatBookingErrors, parseBookingsCsv } from '../collector/sharing/bookings-csv.ts';
import { bookingsFileText } from '../collector/sharing/bookings-file.ts';
import { looksLikeXlsx } from '../collector/sharing/bookings-xlsx.ts';
import { annualCsv } from '../collector/sharing/export-csv.ts';
import { annualSummaryHtml } from '../collector/sharing/summary-html.ts';
import type { AnnualReport, Booking } from '../collector/sharing/types.ts';
import { acquireLock } from '../collector/store/lock.ts';
import { openCollectorStore, type OpenedStore, type StoreCommandOptions } from './store-command.ts';

export type ExportFormat = 'xlsx' | 'csv' | 'html' | 'json';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['xlsx', 'csv', 'html', 'json'];

export interface ExportOptions extends StoreCommandOptions {
  year: number;
  format: ExportFormat;
  out: string;
}

/** The files one export writes: the CSV format writes the summary, sessions and mismatches side by side. */
export function exportFiles(out: string, format: ExportFormat): Array<{ path: string; sheet?: 'summary' | 'sessions' | 'mismatches' }> {
  if (format !== 'csv') return [{ path: out }];
  const stem = out.replace(/\.csv$/i, '');
  return [
    { path: out, sheet: 'summary' },
    { path: `${stem}-sessions.csv`, sheet: 'sessions' },
    { path: `${stem}-mismatches.csv`, sheet: 'mismatches' },
  ];
}

export async function runExportAnnual(opts: ExportOptions, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  if (!isReportYear(opts.year)) throw new Error(`--year must be between 2000 and 2100, got ${opts.year}`);
  const opened = await openCollectorStore(opts);
  const release = acquireLock(opened.config.dataDir, 'jishi export');
  let report: AnnualReport;
  try {
    const now = systemClock.now();
    // The config file may have changed since the collector last started: the export uses it as the collector would.
    syncRegistryFromConfig(opened.store.sharing, opened.config.instruments, now);
    out.write(`building the ${opts.year} report from ${opened.config.storePath} (time zone ${opened.config.timeZone})...\n`);
    report = buildAnnualReport({
      year: opts.year,
      now,
      store: opened.store,
      engine: opened.engine,
      timeZone: opened.config.timeZone,
      defaultRatedHours: opened.config.ratedHours,
      thresholdCny: opened.config.largeInstrumentThresholdCny,
      instrumentIds: opened.config.instruments.map((i) => i.id),
    });
  } finally {
    release();
    opened.close();
  }
  await writeReport(report, opts.format, opts.out, out);
}

export async function writeReport(report: AnnualReport, format: ExportFormat, path: string, out: NodeJS.WritableStream): Promise<void> {
  for (const file of exportFiles(path, format)) {
    const content =
      format === 'xlsx'
        ? await (await import('../collector/sharing/export-xlsx.ts')).writeAnnualXlsx(report)
        : format === 'html'
          ? annualSummaryHtml(report)
          : format === 'json'
            ? `${JSON.stringify(report, null, 2)}\n`
            : annualCsv(report, file.sheet ?? 'summary');
    await writeFile(file.path, content);
    out.write(`wrote ${file.path}\n`);
  }
  const t = report.totals;
  const noData = report.rows.filter((r) => r.no_data).map((r) => r.id);
  const partial = report.rows.filter((r) => r.partial && !r.no_data).map((r) => r.id);
  const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(1)} %`);
  out.write(
    [
      `${report.rows.length} instrument(s), ${report.sessions.length} session(s): effective ${t.effective_h.toFixed(1)} h, external ${t.external_h.toFixed(1)} h, ` +
        `utilization ${pct(t.utilization_rate)}, sharing ${pct(t.sharing_rate)}, coverage ${pct(t.coverage)}`,
      ...(noData.length > 0 ? [`no data in ${report.year}: ${noData.join(', ')}`] : []),
      ...(partial.length > 0 ? [`partial year: ${partial.join(', ')}`] : []),
      ...(report.mismatches.length > 0 ? [`${report.mismatches.length} booking mismatch(es): see the mismatch sheet`] : []),
      '',
    ].join('\n'),
  );
}

export interface ImportOptions extends StoreCommandOptions {
  /** Report the bad rows and store nothing when there is any (default: store the good rows). */
  strict?: boolean;
  /** Check the file against the store and say what an import would do; store nothing. */
  dryRun?: boolean;
}

/** How many of the bookings the store has already (same instrument, start, end and user: its unique key). */
function alreadyStored(store: OpenedStore['store'], bookings: readonly Booking[]): number {
  if (bookings.length === 0) return 0;
  const from = bookings.reduce((m, b) => Math.min(m, b.start), Infinity);
  const to = bookings.reduce((m, b) => Math.max(m, b.end), -Infinity);
  const key = (b: Booking): string => JSON.stringify([b.instrument_id, b.start, b.end, b.user]);
  const stored = new Set(store.sharing.bookings(undefined, from, to).map(key));
  return bookings.filter((b) => stored.has(key(b))).length;
}

/** Imports a bookings CSV or Excel workbook into the store; returns the exit code (0, or 1 when rows were rejected). */
export async function runBookingsImport(file: string, opts: ImportOptions, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const bytes = await readFile(file);
  // An Excel workbook (.xlsx) is read as the CSV text of its first sheet with data; anything else is a CSV file.
  const { text, notes } = await bookingsFileText(bytes, { xlsx: looksLikeXlsx(bytes) });
  const opened = await openCollectorStore(opts);
  const release = acquireLock(opened.config.dataDir, 'jishi bookings import');
  try {
    const now = systemClock.now();
    const known = new Set([
      ...opened.config.instruments.map((i) => i.id),
      ...opened.store.sharing.registry().map((r) => r.id),
      ...opened.store.instrumentIds(),
    ]);
    const name = basename(file);
    for (const note of notes) out.write(`${name}: ${note.message}\n`);
    const parsed = parseBookingsCsv(text, { file: name, timeZone: opened.config.timeZone, knownInstruments: known, now });
    if (parsed.errors.length > 0) err.write(`${formatBookingErrors(name, parsed.errors)}\n`);
    if (opts.strict && parsed.errors.length > 0) {
      out.write(`nothing imported (--strict): fix the rows above and import again\n`);
      return 1;
    }
    if (opts.dryRun) {
      const duplicates = alreadyStored(opened.store, parsed.bookings);
      out.write(
        `${name}: ${parsed.bookings.length - duplicates} booking(s) would be imported, ${duplicates} already there` +
          (parsed.errors.length > 0 ? `, ${parsed.errors.length} bad row(s) would be left out (listed above)` : '') +
          '; nothing stored (--dry-run)\n',
      );
      return parsed.errors.length > 0 ? 1 : 0;
    }
    const result = opened.store.sharing.insertBookings(
      parsed.bookings.map(({ line, ...b }) => ({ ...b, source: `${name}:${line}` })),
      now,
    );
    out.write(
      `${name}: ${result.inserted} booking(s) imported, ${result.duplicates} already there` +
        (parsed.errors.length > 0 ? `, ${parsed.errors.length} bad row(s) left out (listed above)` : '') +
        '\n',
    );
    return parsed.errors.length > 0 ? 1 : 0;
  } finally {
    release();
    opened.close();
  }
}
