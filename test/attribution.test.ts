import { describe, expect, it } from 'vitest';
import { attributeSessions, bookingUse, clipSpans, clipToRange, findMismatches, mergeSpans } from '../collector/sharing/attribution.ts';
import { dayStart } from '../collector/engine/time-zone.ts';
import type { SessionSpan, StoredBooking, UserKind } from '../collector/sharing/types.ts';

/** Local Asia/Shanghai wall time (UTC+8) as ms. */
const T = (local: string): number => Date.parse(`${local.replace(' ', 'T')}:00+08:00`);
const H = 3_600_000;

function session(start: string, end: string, instrument_id = 'XRD-01', active_s = 0, energy_kwh = 0): SessionSpan {
  return { instrument_id, start: T(start), end: T(end), active_s, energy_kwh };
}

let nextId = 1;
function booking(start: string, end: string, kind: UserKind, extra: Partial<StoredBooking> = {}): StoredBooking {
  const id = extra.id ?? nextId++;
  return {
    id,
    source: `test.csv:${id}`,
    instrument_id: 'XRD-01',
    start: T(start),
    end: T(end),
    user: `user${id}`,
    organisation: kind === 'external' ? 'ACME Ltd' : '化学学院',
    kind,
    ...extra,
  };
}

describe('attributeSessions', () => {
  it('splits a session into external, internal and unattributed time', () => {
    const ext = booking('2025-03-04 08:30', '2025-03-04 10:00', 'external', { id: 1 });
    const int = booking('2025-03-04 10:00', '2025-03-04 11:00', 'internal', { id: 2 });
    const [a] = attributeSessions([session('2025-03-04 09:00', '2025-03-04 12:00')], [int, ext]);
    // external: 09:00-10:00 (the booking's 08:30-09:00 is outside the session) = 1.0 h
    // internal: 10:00-11:00 = 1.0 h; unattributed: 11:00-12:00 = 1.0 h; 1 + 1 + 1 = 3 h session
    expect(a!.external_h).toBe(1);
    expect(a!.internal_h).toBe(1);
    expect(a!.unattributed_h).toBe(1);
    expect(a!.booking_ids).toEqual([1, 2]); // by start
  });

  it('gives overlapping external and internal time to external', () => {
    const int = booking('2025-03-04 09:00', '2025-03-04 12:00', 'internal', { id: 1 });
    const ext = booking('2025-03-04 10:00', '2025-03-04 11:30', 'external', { id: 2 });
    const ext2 = booking('2025-03-04 11:00', '2025-03-04 11:45', 'external', { id: 3 });
    const [a] = attributeSessions([session('2025-03-04 09:00', '2025-03-04 12:00')], [int, ext, ext2]);
    // external: union 10:00-11:30 and 11:00-11:45 = 10:00-11:45 = 1.75 h
    // internal: 3 h covered by the internal booking - 1.75 h external = 1.25 h; unattributed 0
    expect(a!.external_h).toBe(1.75);
    expect(a!.internal_h).toBe(1.25);
    expect(a!.unattributed_h).toBe(0);
    expect(a!.booking_ids).toEqual([1, 2, 3]);
  });

  it('ignores bookings of another instrument and bookings only touching the session', () => {
    const other = booking('2025-03-04 08:00', '2025-03-04 13:00', 'external', { id: 1, instrument_id: 'NMR-02' });
    const before = booking('2025-03-04 07:00', '2025-03-04 09:00', 'external', { id: 2 });
    const [a] = attributeSessions([session('2025-03-04 09:00', '2025-03-04 12:00')], [other, before]);
    expect(a).toMatchObject({ external_h: 0, internal_h: 0, unattributed_h: 3, booking_ids: [] });
  });

  it('finds a long booking that started long before the session', () => {
    const long = booking('2025-03-01 00:00', '2025-03-10 00:00', 'external', { id: 1 });
    const short = booking('2025-03-04 08:00', '2025-03-04 08:30', 'internal', { id: 2 });
    const [a] = attributeSessions([session('2025-03-04 09:00', '2025-03-04 10:30')], [short, long]);
    expect(a).toMatchObject({ external_h: 1.5, internal_h: 0, unattributed_h: 0, booking_ids: [1] });
  });

  it('keeps the session fields and always adds up to the session length', () => {
    // A deterministic pseudo-random mix of sessions and bookings.
    let seed = 42;
    const rnd = (n: number): number => {
      // mulberry32
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
    };
    const base = T('2025-05-01 00:00');
    const sessions: SessionSpan[] = [];
    const bookings: StoredBooking[] = [];
    for (let i = 0; i < 200; i++) {
      const start = base + rnd(7 * 24 * 60) * 60_000;
      sessions.push({ instrument_id: rnd(2) ? 'A' : 'B', start, end: start + (1 + rnd(600)) * 60_001, active_s: 100, energy_kwh: 1 });
      const bs = base + rnd(7 * 24 * 60) * 60_000;
      bookings.push({ ...booking('2025-05-01 00:00', '2025-05-01 01:00', rnd(2) ? 'internal' : 'external', { id: i + 1 }), instrument_id: rnd(2) ? 'A' : 'B', start: bs, end: bs + (1 + rnd(900)) * 60_000 });
    }
    const all = attributeSessions(sessions, bookings);
    // The mix exercises every case.
    expect(all.filter((a) => a.external_h > 0 && a.internal_h > 0 && a.unattributed_h > 0).length).toBeGreaterThan(5);
    for (const a of all) {
      expect(a.external_h + a.internal_h + a.unattributed_h).toBeCloseTo((a.end - a.start) / H, 9);
      expect(Math.min(a.external_h, a.internal_h, a.unattributed_h)).toBeGreaterThanOrEqual(0);
      expect(a.active_s).toBe(100);
      // Oracle: cut the session at every booking boundary; each elementary piece is classified by its midpoint.
      const mine = bookings.filter((b) => b.instrument_id === a.instrument_id);
      const cuts = [...new Set([a.start, a.end, ...mine.flatMap((b) => [b.start, b.end])])].filter((t) => t >= a.start && t <= a.end).sort((x, y) => x - y);
      const expected = { external: 0, internal: 0, none: 0 };
      for (let i = 0; i + 1 < cuts.length; i++) {
        const mid = (cuts[i]! + cuts[i + 1]!) / 2;
        const covering = mine.filter((b) => b.start <= mid && mid < b.end);
        const k = covering.some((b) => b.kind === 'external') ? 'external' : covering.length > 0 ? 'internal' : 'none';
        expected[k] += cuts[i + 1]! - cuts[i]!;
      }
      expect(a.external_h).toBeCloseTo(expected.external / H, 9);
      expect(a.internal_h).toBeCloseTo(expected.internal / H, 9);
      expect(a.unattributed_h).toBeCloseTo(expected.none / H, 9);
      for (const id of a.booking_ids) {
        const b = bookings[id - 1]!;
        expect(b.instrument_id).toBe(a.instrument_id);
        expect(b.start < a.end && b.end > a.start).toBe(true);
      }
    }
  });
});

describe('bookingUse', () => {
  it('measures used, idle and unknown booked time', () => {
    const b = booking('2025-03-04 09:00', '2025-03-04 13:00', 'external', { id: 1 });
    const [u] = bookingUse(
      [b],
      [session('2025-03-04 08:00', '2025-03-04 10:00'), session('2025-03-04 09:30', '2025-03-04 10:30'), session('2025-03-04 12:00', '2025-03-04 12:30', 'NMR-02')],
      [{ instrument_id: 'XRD-01', start: T('2025-03-04 10:00'), end: T('2025-03-04 11:00') }],
    );
    // used: sessions 08:00-10:00 and 09:30-10:30 merge to 08:00-10:30 -> booking part 09:00-10:30 = 1.5 h
    // unknown: 10:00-11:00 minus the used time up to 10:30 -> 10:30-11:00 = 0.5 h
    // idle: 4 - 1.5 = 2.5 h (the NMR-02 session does not count)
    expect(u).toMatchObject({ booked_h: 4, used_h: 1.5, unknown_h: 0.5, idle_h: 2.5 });
    expect(u!.booking).toBe(b);
  });
});

describe('findMismatches', () => {
  it('reports a no-show', () => {
    const b = booking('2025-03-04 14:00', '2025-03-04 16:00', 'external', { id: 7, user: '张三', organisation: 'ACME Ltd' });
    const uses = bookingUse([b], [session('2025-03-04 09:00', '2025-03-04 10:00')], []);
    expect(findMismatches([], uses)).toEqual([
      { kind: 'no_show', instrument_id: 'XRD-01', start: b.start, end: b.end, booking_id: 7, user: '张三', organisation: 'ACME Ltd', booked_h: 2, unknown_h: 0 },
    ]);
  });

  it('claims a no-show only for booked time with a known state', () => {
    const half = booking('2025-03-04 14:00', '2025-03-04 16:00', 'external', { id: 1 });
    const all = booking('2025-03-05 14:00', '2025-03-05 16:00', 'external', { id: 2 });
    const unknown = [
      { instrument_id: 'XRD-01', start: T('2025-03-04 15:00'), end: T('2025-03-04 17:00') },
      { instrument_id: 'XRD-01', start: T('2025-03-05 12:00'), end: T('2025-03-05 18:00') },
    ];
    const uses = bookingUse([half, all], [], unknown);
    // half: 14:00-16:00 booked, 15:00-16:00 unknown -> unknown 1 h, known 1 h with no use: a no-show
    // all: entirely unknown -> neither used nor a no-show
    expect(uses.map((u) => [u.booked_h, u.used_h, u.unknown_h, u.idle_h])).toEqual([
      [2, 0, 1, 2],
      [2, 0, 2, 2],
    ]);
    const m = findMismatches([], uses);
    expect(m).toHaveLength(1);
    expect(m[0]).toMatchObject({ kind: 'no_show', booking_id: 1, booked_h: 2, unknown_h: 1 });
    // Asking for at least 60 % known time: 1 h known of 2 h = 50 % is not enough.
    expect(findMismatches([], uses, { minNoShowShare: 0.6 })).toEqual([]);
  });

  it('reports a partly used booking below half of its known time', () => {
    const mostlyIdle = booking('2025-03-04 09:00', '2025-03-04 13:00', 'internal', { id: 1 });
    const halfUsed = booking('2025-03-05 09:00', '2025-03-05 11:00', 'internal', { id: 2 });
    const halfUnknown = booking('2025-03-06 09:00', '2025-03-06 13:00', 'internal', { id: 3 });
    const sessions = [session('2025-03-04 09:00', '2025-03-04 10:00'), session('2025-03-05 09:00', '2025-03-05 10:00'), session('2025-03-06 09:00', '2025-03-06 10:00')];
    const unknown = [{ instrument_id: 'XRD-01', start: T('2025-03-06 11:00'), end: T('2025-03-06 13:00') }];
    const uses = bookingUse([mostlyIdle, halfUsed, halfUnknown], sessions, unknown);
    const m = findMismatches(attributeSessions(sessions, [mostlyIdle, halfUsed, halfUnknown]), uses);
    // mostlyIdle: 1 h used of 4 h known = 25 % < 50 % -> partly_used
    // halfUsed: 1 h of 2 h = 50 % -> fine
    // halfUnknown: 1 h used of 4 - 2 = 2 h known = 50 % -> fine (unknown time is not absence)
    expect(m).toEqual([{ kind: 'partly_used', instrument_id: 'XRD-01', start: mostlyIdle.start, end: mostlyIdle.end, booking_id: 1, user: 'user1', organisation: '化学学院', booked_h: 4, used_h: 1 }]);
  });

  it('reports unattributed pieces of at least 15 minutes with their times', () => {
    const b = booking('2025-03-04 09:00', '2025-03-04 11:50', 'internal', { id: 1 });
    const sessions = [session('2025-03-04 08:00', '2025-03-04 12:00'), session('2025-03-04 14:00', '2025-03-04 14:10'), session('2025-03-04 15:00', '2025-03-04 15:15')];
    const attributed = attributeSessions(sessions, [b]);
    const m = findMismatches(attributed, bookingUse([b], sessions, []));
    // 08:00-09:00 = 1 h: reported; 11:50-12:00 = 10 min and 14:00-14:10: noise; 15:00-15:15 = exactly 0.25 h: reported
    expect(m).toEqual([
      { kind: 'unattributed', instrument_id: 'XRD-01', start: T('2025-03-04 08:00'), end: T('2025-03-04 09:00'), hours: 1 },
      { kind: 'unattributed', instrument_id: 'XRD-01', start: T('2025-03-04 15:00'), end: T('2025-03-04 15:15'), hours: 0.25 },
    ]);
    expect(findMismatches(attributed, bookingUse([b], sessions, []), { minUnattributedH: 0 })).toHaveLength(4);
  });

  it('reports overlapping bookings of one instrument, pair by pair, with the overlap', () => {
    const b1 = booking('2025-03-04 09:00', '2025-03-04 11:00', 'internal', { id: 1 });
    const b2 = booking('2025-03-04 10:00', '2025-03-04 12:00', 'external', { id: 2 });
    const b3 = booking('2025-03-04 12:00', '2025-03-04 13:00', 'external', { id: 3 }); // touches b2 only
    const b4 = booking('2025-03-04 10:30', '2025-03-04 10:45', 'external', { id: 4, instrument_id: 'NMR-02' });
    const sessions = [session('2025-03-04 09:00', '2025-03-04 13:00'), session('2025-03-04 10:30', '2025-03-04 10:45', 'NMR-02')];
    const m = findMismatches(attributeSessions(sessions, [b1, b2, b3, b4]), bookingUse([b1, b2, b3, b4], sessions, []));
    expect(m).toEqual([{ kind: 'overlapping_bookings', instrument_id: 'XRD-01', start: T('2025-03-04 10:00'), end: T('2025-03-04 11:00'), booking_ids: [1, 2] }]);
  });

  it('sorts by instrument, then start', () => {
    const b1 = booking('2025-03-04 14:00', '2025-03-04 15:00', 'internal', { id: 1, instrument_id: 'B' });
    const b2 = booking('2025-03-04 10:00', '2025-03-04 11:00', 'internal', { id: 2, instrument_id: 'B' });
    const b3 = booking('2025-03-04 16:00', '2025-03-04 17:00', 'internal', { id: 3, instrument_id: 'A' });
    const sessions = [session('2025-03-04 12:00', '2025-03-04 13:00', 'B'), session('2025-03-04 08:00', '2025-03-04 09:00', 'A')];
    const m = findMismatches(attributeSessions(sessions, [b1, b2, b3]), bookingUse([b1, b2, b3], sessions, []));
    expect(m.map((x) => [x.instrument_id, x.kind, x.start])).toEqual([
      ['A', 'unattributed', T('2025-03-04 08:00')],
      ['A', 'no_show', T('2025-03-04 16:00')],
      ['B', 'no_show', T('2025-03-04 10:00')],
      ['B', 'unattributed', T('2025-03-04 12:00')],
      ['B', 'no_show', T('2025-03-04 14:00')],
    ]);
  });
});

describe('clipping', () => {
  it('cuts a session crossing New Year at the boundary, pro-rating active time and energy', () => {
    const s = { instrument_id: 'XRD-01', start: T('2025-12-31 22:00'), end: T('2026-01-01 02:00'), active_s: 7200, energy_kwh: 2 };
    const newYear = dayStart('2026-01-01', 'Asia/Shanghai');
    expect(newYear).toBe(Date.UTC(2025, 11, 31, 16, 0));
    const y2025 = clipSpans([s], dayStart('2025-01-01', 'Asia/Shanghai'), newYear);
    const y2026 = clipSpans([s], newYear, dayStart('2027-01-01', 'Asia/Shanghai'));
    // 4 h session, 2 h on each side: half of 7,200 s active and of 2 kWh each
    expect(y2025).toEqual([{ ...s, end: newYear, active_s: 3600, energy_kwh: 1 }]);
    expect(y2026).toEqual([{ ...s, start: newYear, active_s: 3600, energy_kwh: 1 }]);
    expect(y2025[0]!.active_s + y2026[0]!.active_s).toBe(s.active_s);
  });

  it('cuts a session spanning midnight to one day and keeps or drops the others', () => {
    const night = session('2025-03-04 23:00', '2025-03-05 01:00', 'XRD-01', 3600, 0.5);
    const inside = session('2025-03-04 10:00', '2025-03-04 11:00', 'XRD-01', 1800, 0.2);
    const after = session('2025-03-05 02:00', '2025-03-05 03:00');
    const from = dayStart('2025-03-04', 'Asia/Shanghai');
    const to = dayStart('2025-03-05', 'Asia/Shanghai');
    const out = clipSpans([night, inside, after], from, to);
    // night: 23:00-24:00 = 1 h of 2 h -> 1,800 s active, 0.25 kWh; inside unchanged (same object); after dropped
    expect(out).toEqual([{ ...night, end: to, active_s: 1800, energy_kwh: 0.25 }, inside]);
    expect(out[1]).toBe(inside);
    // The clipped session is then attributed on its own part only.
    const b = booking('2025-03-04 23:30', '2025-03-05 01:00', 'external', { id: 1 });
    expect(attributeSessions(out, [b])[0]).toMatchObject({ external_h: 0.5, unattributed_h: 0.5 });
  });

  it('clips bookings and unknown intervals to a range', () => {
    const b = booking('2025-12-31 20:00', '2026-01-01 04:00', 'external', { id: 1 });
    const newYear = dayStart('2026-01-01', 'Asia/Shanghai');
    const [c] = clipToRange([b], 0, newYear);
    expect(c).toEqual({ ...b, end: newYear });
    expect(clipToRange([b], newYear + 5 * H, newYear + 6 * H)).toEqual([]);
  });

  it('merges spans', () => {
    expect(mergeSpans([{ start: 5, end: 8 }, { start: 0, end: 2 }, { start: 2, end: 3 }, { start: 6, end: 7 }, { start: 9, end: 9 }])).toEqual([
      { start: 0, end: 3 },
      { start: 5, end: 8 },
    ]);
  });
});
