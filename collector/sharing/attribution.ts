/**
 * Attribution of measured sessions to bookings, and the disagreements between the two (DOMAIN "External service
 * hours": power cannot tell who used an instrument; bookings are matched to sessions by time overlap; sessions
 * with no booking are `unattributed`, booked time with no measured session is a `no_show`, both are reported).
 *
 * Pure functions on ms intervals [start, end): exact interval arithmetic, no sampling. Only intervals of the same
 * instrument interact. Hours are ms / 3,600,000.
 *
 * Rules
 * - A session's time covered by at least one external booking is external; else covered by an internal booking,
 *   internal; else unattributed. external_h + internal_h + unattributed_h = the session length.
 * - A booking's used time is its time covered by sessions; its unknown time is the rest of it covered by
 *   `unknown` state intervals (no data: neither use nor absence can be claimed); idle = booked - used.
 * - no_show: no use at all, and some of the booking has a known state (at least `minNoShowShare` of it).
 * - partly_used: some use, but less than `partlyUsedShare` (default 50 %) of the booked time with a known state
 *   (booked - unknown): unknown time is never counted as absence.
 * - unattributed: each maximal piece of a session covered by no booking, of at least `minUnattributedH`
 *   (default 0.25 h; shorter pieces, e.g. a warm-up before the booked slot, are noise).
 * - overlapping_bookings: each pair of bookings of one instrument that overlap, with the overlap as its times.
 */

import type { AttributedSession, BookingUse, Mismatch, SessionSpan, StoredBooking } from './types.ts';

const HOUR_MS = 3_600_000;

interface Span {
  start: number;
  end: number;
}

function hours(ms: number): number {
  return ms / HOUR_MS;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    let g = groups.get(k);
    if (g === undefined) groups.set(k, (g = []));
    g.push(item);
  }
  return groups;
}

/** The union of spans as sorted, disjoint, non-empty spans (touching spans are merged). */
export function mergeSpans(spans: readonly Span[]): Span[] {
  const sorted = spans.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start || a.end - b.end);
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push({ start: s.start, end: s.end });
  }
  return out;
}

/** Index of the first span of a sorted disjoint list whose end is after `t`. */
function firstEndingAfter(list: readonly Span[], t: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.end > t) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The pieces of a sorted disjoint list inside [from, to). */
function piecesWithin(list: readonly Span[], from: number, to: number): Span[] {
  const out: Span[] = [];
  for (let i = firstEndingAfter(list, from); i < list.length && list[i]!.start < to; i++) {
    const s = list[i]!;
    const start = Math.max(s.start, from);
    const end = Math.min(s.end, to);
    if (end > start) out.push({ start, end });
  }
  return out;
}

/** ms of [from, to) covered by a sorted disjoint list. */
function coveredMs(list: readonly Span[], from: number, to: number): number {
  return piecesWithin(list, from, to).reduce((n, s) => n + s.end - s.start, 0);
}

/** The parts of [from, to) not covered by a sorted disjoint list. */
function gapsWithin(list: readonly Span[], from: number, to: number): Span[] {
  const out: Span[] = [];
  let t = from;
  for (const p of piecesWithin(list, from, to)) {
    if (p.start > t) out.push({ start: t, end: p.start });
    t = p.end;
  }
  if (to > t) out.push({ start: t, end: to });
  return out;
}

/** The bookings of one instrument sorted by start, with the longest duration to bound overlap searches. */
interface BookingIndex {
  sorted: StoredBooking[];
  maxLength: number;
}

function indexBookings(bookings: readonly StoredBooking[]): Map<string, BookingIndex> {
  const out = new Map<string, BookingIndex>();
  for (const [id, list] of groupBy(bookings, (b) => b.instrument_id)) {
    const sorted = [...list].sort((a, b) => a.start - b.start || a.end - b.end || a.id - b.id);
    out.set(id, { sorted, maxLength: sorted.reduce((m, b) => Math.max(m, b.end - b.start), 0) });
  }
  return out;
}

/** Bookings of the index overlapping [from, to) by a positive length, by start. */
function overlapping(index: BookingIndex | undefined, from: number, to: number): StoredBooking[] {
  if (index === undefined || to <= from) return [];
  const { sorted, maxLength } = index;
  // Any overlapping booking starts after from - maxLength.
  let lo = 0;
  let hi = sorted.length;
  const bound = from - maxLength;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.start <= bound) lo = mid + 1;
    else hi = mid;
  }
  const out: StoredBooking[] = [];
  for (let i = lo; i < sorted.length && sorted[i]!.start < to; i++) {
    const b = sorted[i]!;
    if (b.end > from && b.end > b.start) out.push(b);
  }
  return out;
}

/** Splits each session by the bookings of its instrument: external wins over internal; the rest is unattributed. */
export function attributeSessions(sessions: readonly SessionSpan[], bookings: readonly StoredBooking[]): AttributedSession[] {
  const index = indexBookings(bookings);
  return sessions.map((s) => {
    const length = Math.max(0, s.end - s.start);
    const over = overlapping(index.get(s.instrument_id), s.start, s.end);
    const external = mergeSpans(over.filter((b) => b.kind === 'external'));
    const any = mergeSpans(over);
    const externalMs = coveredMs(external, s.start, s.end);
    const bookedMs = coveredMs(any, s.start, s.end);
    return {
      ...s,
      external_h: hours(externalMs),
      internal_h: hours(bookedMs - externalMs),
      unattributed_h: hours(length - bookedMs),
      booking_ids: over.map((b) => b.id),
    };
  });
}

/**
 * Per booking (in the given order): booked, used (covered by sessions), unknown (not used, covered by `unknown`
 * state intervals) and idle (booked - used) hours.
 */
export function bookingUse(
  bookings: readonly StoredBooking[],
  sessions: readonly SessionSpan[],
  unknown: ReadonlyArray<{ instrument_id: string; start: number; end: number }>,
): BookingUse[] {
  const sessionsBy = new Map([...groupBy(sessions, (s) => s.instrument_id)].map(([id, list]) => [id, mergeSpans(list)]));
  const unknownBy = new Map([...groupBy(unknown, (u) => u.instrument_id)].map(([id, list]) => [id, mergeSpans(list)]));
  return bookings.map((booking) => {
    const { start, end } = booking;
    const bookedMs = Math.max(0, end - start);
    const used = sessionsBy.get(booking.instrument_id) ?? [];
    const unk = unknownBy.get(booking.instrument_id) ?? [];
    const usedMs = coveredMs(used, start, end);
    let unknownMs = 0;
    for (const gap of gapsWithin(used, start, end)) unknownMs += coveredMs(unk, gap.start, gap.end);
    return {
      booking,
      booked_h: hours(bookedMs),
      used_h: hours(usedMs),
      idle_h: hours(bookedMs - usedMs),
      unknown_h: hours(unknownMs),
    };
  });
}

export interface MismatchOptions {
  /** Unattributed pieces shorter than this are noise, hours (default 0.25). */
  minUnattributedH?: number;
  /**
   * A booking without use is a no-show only when at least this share of it has a known state (default 0: any
   * known time; a booking entirely in unknown state is never a no-show).
   */
  minNoShowShare?: number;
  /** Used time below this share of the known booked time is `partly_used` (default 0.5). */
  partlyUsedShare?: number;
}

export const DEFAULT_MIN_UNATTRIBUTED_H = 0.25;
export const DEFAULT_PARTLY_USED_SHARE = 0.5;

const KIND_ORDER: Record<Mismatch['kind'], number> = { no_show: 0, partly_used: 1, overlapping_bookings: 2, unattributed: 3 };

/**
 * The disagreements between bookings and measurements, sorted by instrument, then start (then kind and end).
 * `uses` must cover the bookings the sessions were attributed with (their ids name them): the unattributed pieces
 * are the session time outside those bookings.
 */
export function findMismatches(
  attributed: readonly AttributedSession[],
  uses: readonly BookingUse[],
  options: MismatchOptions = {},
): Mismatch[] {
  const minUnattributedMs = (options.minUnattributedH ?? DEFAULT_MIN_UNATTRIBUTED_H) * HOUR_MS;
  const minKnownShare = options.minNoShowShare ?? 0;
  const partlyShare = options.partlyUsedShare ?? DEFAULT_PARTLY_USED_SHARE;
  const out: Mismatch[] = [];

  for (const u of uses) {
    const b = u.booking;
    const who = { instrument_id: b.instrument_id, start: b.start, end: b.end, booking_id: b.id, user: b.user, organisation: b.organisation };
    const known = u.booked_h - u.unknown_h;
    if (u.used_h === 0) {
      if (known > 0 && u.booked_h > 0 && known / u.booked_h >= minKnownShare) {
        out.push({ kind: 'no_show', ...who, booked_h: u.booked_h, unknown_h: u.unknown_h });
      }
    } else if (u.used_h < partlyShare * known) {
      out.push({ kind: 'partly_used', ...who, booked_h: u.booked_h, used_h: u.used_h });
    }
  }

  const byId = new Map(uses.map((u) => [u.booking.id, u.booking]));
  for (const s of attributed) {
    if (s.unattributed_h <= 0) continue;
    const booked = mergeSpans(s.booking_ids.flatMap((id) => byId.get(id) ?? []));
    for (const gap of gapsWithin(booked, s.start, s.end)) {
      if (gap.end - gap.start >= minUnattributedMs) {
        out.push({ kind: 'unattributed', instrument_id: s.instrument_id, start: gap.start, end: gap.end, hours: hours(gap.end - gap.start) });
      }
    }
  }

  for (const [instrument_id, list] of groupBy(
    uses.map((u) => u.booking).filter((b) => b.end > b.start),
    (b) => b.instrument_id,
  )) {
    const sorted = [...list].sort((a, b) => a.start - b.start || a.end - b.end || a.id - b.id);
    const open: StoredBooking[] = [];
    for (const b of sorted) {
      // Keep the bookings still running at b.start; each overlaps b.
      for (let i = open.length - 1; i >= 0; i--) if (open[i]!.end <= b.start) open.splice(i, 1);
      for (const a of open) {
        out.push({ kind: 'overlapping_bookings', instrument_id, start: b.start, end: Math.min(a.end, b.end), booking_ids: [a.id, b.id] });
      }
      open.push(b);
    }
  }

  return out.sort(
    (a, b) =>
      (a.instrument_id < b.instrument_id ? -1 : a.instrument_id > b.instrument_id ? 1 : 0) ||
      a.start - b.start ||
      KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
      a.end - b.end,
  );
}

/**
 * Items cut to [from, to): those not overlapping it are dropped, the others get their start and end clamped
 * (other fields copied unchanged). For bookings and unknown intervals of a report period.
 */
export function clipToRange<T extends Span>(items: readonly T[], from: number, to: number): T[] {
  const out: T[] = [];
  for (const item of items) {
    const start = Math.max(item.start, from);
    const end = Math.min(item.end, to);
    if (end > start) out.push(start === item.start && end === item.end ? item : { ...item, start, end });
  }
  return out;
}

/**
 * Sessions cut to [from, to) (a report year: a session crossing New Year counts in each year for its part):
 * active_s and energy_kwh are pro-rated by the time kept (the session's detail is not known here, so activity is
 * taken as even over it). Sessions outside are dropped; a zero-length session is kept when from <= start < to.
 * Cut before attributing: the hours of an AttributedSession are not recomputed.
 */
export function clipSpans<T extends SessionSpan>(spans: readonly T[], from: number, to: number): T[] {
  const out: T[] = [];
  for (const s of spans) {
    const length = s.end - s.start;
    if (length <= 0) {
      if (s.start >= from && s.start < to) out.push(s);
      continue;
    }
    const start = Math.max(s.start, from);
    const end = Math.min(s.end, to);
    if (end <= start) continue;
    if (start === s.start && end === s.end) {
      out.push(s);
      continue;
    }
    const share = (end - start) / length;
    out.push({ ...s, start, end, active_s: Math.min(s.active_s * share, (end - start) / 1000), energy_kwh: s.energy_kwh * share });
  }
  return out;
}
