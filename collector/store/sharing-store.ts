/**
 * The open-sharing tables of the collector's store: the instrument registry with the history of every field
 * change, and booking / usage records. Registry fields are kept as JSON values by name (asset fields, rated
 * hours, thresholds, annual entries), so a new field needs no migration.
 */
import type Database from 'better-sqlite3';
import type { Booking, RegistryChange, StoredBooking } from '../sharing/types.ts';

/** One registry record: field name -> JSON value. */
export type RegistryFields = Record<string, unknown>;

export interface RegistryRecord {
  id: string;
  fields: RegistryFields;
  updated_at: number;
}

export interface BookingInsert extends Booking {
  /** Where the record came from, e.g. `bookings-2025.csv:17` or `api:asset-office`. */
  source: string;
}

export interface SharingStore {
  /** Every registry record, by id order. */
  registry(): RegistryRecord[];
  registryRecord(id: string): RegistryRecord | undefined;
  /**
   * Sets the given fields of an instrument's record (creating it); `undefined` values are skipped, `null` removes a
   * field. Each field whose value changes is recorded in the history with `source`. Returns the changes.
   */
  setRegistryFields(id: string, fields: RegistryFields, source: string, now: number): RegistryChange[];
  /** The history of one instrument (or all), oldest first. */
  registryHistory(id?: string): RegistryChange[];
  /** Stores bookings; one equal to a stored one (instrument, start, end, user) is skipped and counted. */
  insertBookings(bookings: readonly BookingInsert[], now: number): { inserted: number; duplicates: number };
  /** Bookings overlapping [from, to), by instrument and start; all instruments when `instrumentIds` is undefined. */
  bookings(instrumentIds: readonly string[] | undefined, from: number, to: number): StoredBooking[];
  /** Deletes bookings by id; returns how many existed. */
  deleteBookings(ids: readonly number[]): number;
}

interface BookingRow {
  id: number;
  instrument_id: string;
  start: number;
  end: number;
  user: string;
  organisation: string;
  kind: 'internal' | 'external';
  purpose: string | null;
  fee_cny: number | null;
  samples: number | null;
  source: string;
}

function booking(row: BookingRow): StoredBooking {
  return {
    id: row.id,
    instrument_id: row.instrument_id,
    start: row.start,
    end: row.end,
    user: row.user,
    organisation: row.organisation,
    kind: row.kind,
    ...(row.purpose !== null ? { purpose: row.purpose } : {}),
    ...(row.fee_cny !== null ? { fee_cny: row.fee_cny } : {}),
    ...(row.samples !== null ? { samples: row.samples } : {}),
    source: row.source,
  };
}

/** Stable JSON of a value, for comparing registry values (object keys sorted). */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

export function createSqliteSharingStore(db: Database.Database): SharingStore {
  const st = {
    all: db.prepare('SELECT id, fields, updated_at FROM registry ORDER BY id'),
    one: db.prepare('SELECT id, fields, updated_at FROM registry WHERE id = ?'),
    upsert: db.prepare(
      'INSERT INTO registry (id, fields, updated_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET fields = excluded.fields, updated_at = excluded.updated_at',
    ),
    history: db.prepare('INSERT INTO registry_history (instrument_id, field, old_value, new_value, changed_at, source) VALUES (?, ?, ?, ?, ?, ?)'),
    historyAll: db.prepare('SELECT instrument_id, field, old_value, new_value, changed_at, source FROM registry_history ORDER BY seq'),
    historyOne: db.prepare('SELECT instrument_id, field, old_value, new_value, changed_at, source FROM registry_history WHERE instrument_id = ? ORDER BY seq'),
    insertBooking: db.prepare(
      `INSERT INTO bookings (instrument_id, start, end, user, organisation, kind, purpose, fee_cny, samples, source, imported_at)
       VALUES (@instrument_id, @start, @end, @user, @organisation, @kind, @purpose, @fee_cny, @samples, @source, @imported_at)
       ON CONFLICT DO NOTHING`,
    ),
    bookingsAll: db.prepare('SELECT * FROM bookings WHERE start < ? AND end > ? ORDER BY instrument_id, start, id'),
    deleteBooking: db.prepare('DELETE FROM bookings WHERE id = ?'),
  };
  type Row = { id: string; fields: string; updated_at: number };
  const record = (row: Row): RegistryRecord => ({ id: row.id, fields: JSON.parse(row.fields) as RegistryFields, updated_at: row.updated_at });
  type HistoryRow = { instrument_id: string; field: string; old_value: string | null; new_value: string | null; changed_at: number; source: string };
  const change = (r: HistoryRow): RegistryChange => ({
    instrument_id: r.instrument_id,
    field: r.field,
    old_value: r.old_value === null ? null : (JSON.parse(r.old_value) as unknown),
    new_value: r.new_value === null ? null : (JSON.parse(r.new_value) as unknown),
    changed_at: r.changed_at,
    source: r.source,
  });

  const setFields = db.transaction((id: string, fields: RegistryFields, source: string, now: number): RegistryChange[] => {
    const row = st.one.get(id) as Row | undefined;
    const current: RegistryFields = row ? (JSON.parse(row.fields) as RegistryFields) : {};
    const changes: RegistryChange[] = [];
    for (const [field, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      const old = Object.hasOwn(current, field) ? current[field] : null;
      if (canonical(old) === canonical(value)) continue;
      if (value === null) delete current[field];
      else current[field] = value;
      st.history.run(id, field, old === null ? null : JSON.stringify(old), value === null ? null : JSON.stringify(value), now, source);
      changes.push({ instrument_id: id, field, old_value: old, new_value: value, changed_at: now, source });
    }
    if (!row || changes.length > 0) st.upsert.run(id, JSON.stringify(current), changes.length > 0 || !row ? now : row.updated_at);
    return changes;
  });

  const insert = db.transaction((bookings: readonly BookingInsert[], now: number) => {
    let inserted = 0;
    for (const b of bookings) {
      const r = st.insertBooking.run({
        instrument_id: b.instrument_id,
        start: b.start,
        end: b.end,
        user: b.user,
        organisation: b.organisation,
        kind: b.kind,
        purpose: b.purpose ?? null,
        fee_cny: b.fee_cny ?? null,
        samples: b.samples ?? null,
        source: b.source,
        imported_at: now,
      });
      inserted += r.changes;
    }
    return { inserted, duplicates: bookings.length - inserted };
  });

  return {
    registry: () => (st.all.all() as Row[]).map(record),
    registryRecord(id) {
      const row = st.one.get(id) as Row | undefined;
      return row ? record(row) : undefined;
    },
    setRegistryFields: (id, fields, source, now) => setFields(id, fields, source, now),
    registryHistory: (id) => ((id === undefined ? st.historyAll.all() : st.historyOne.all(id)) as HistoryRow[]).map(change),
    insertBookings: (bookings, now) => insert(bookings, now),
    bookings(instrumentIds, from, to) {
      const rows = (st.bookingsAll.all(to, from) as BookingRow[]).map(booking);
      if (instrumentIds === undefined) return rows;
      const wanted = new Set(instrumentIds);
      return rows.filter((b) => wanted.has(b.instrument_id));
    },
    deleteBookings: db.transaction((ids: readonly number[]) => ids.reduce((n, id) => n + st.deleteBooking.run(id).changes, 0)),
  };
}
