/**
 * Sessions (effective working time, DOMAIN "Hours") from a contiguous, merged stream of state intervals.
 *
 * - A session starts at an `active` interval and absorbs `standby` between active periods when that standby
 *   lasts at most merge_gap_s. Anything else after an active period ends the session: off, fault, unknown,
 *   or a standby longer than merge_gap_s.
 * - Warm-up: the last warmup_max_s of the standby right before the first active period.
 * - Post-processing: the first post_max_s of the standby right after the last active period.
 * - A standby longer than merge_gap_s between two sessions goes first to the earlier session's post-processing,
 *   and what is left of it (its last warmup_max_s at most) to the next session's warm-up: they never overlap.
 * - Energy: whole intervals inside the session, pro-rated by time for a partly covered standby.
 *
 * The state is a plain JSON object (checkpointable); sessionPush appends the sessions it closes to `out`.
 */
import type { EngineParams, Session, StateInterval } from './types.ts';

/** A session whose end is not known yet. Times in ms. */
export interface OpenSession {
  start: number;
  /** End of the last active period absorbed so far. */
  end: number;
  active_ms: number;
  warmup_ms: number;
  energy_kwh: number;
}

export interface SessionBuilderState {
  open: OpenSession | null;
  /** The standby right after the open session's last active period, waiting for what follows it. */
  trailing: StateInterval | null;
  /** With no open session: the last interval when it is standby (a possible warm-up), usable from avail_from. */
  standby: { interval: StateInterval; avail_from: number } | null;
}

export function newSessionBuilderState(): SessionBuilderState {
  return { open: null, trailing: null, standby: null };
}

/** The energy of `ms` of an interval, pro-rated by time. */
function energyOf(iv: StateInterval, ms: number): number {
  const len = iv.end - iv.start;
  if (ms >= len) return iv.energy_kwh;
  return len > 0 ? iv.energy_kwh * (ms / len) : 0;
}

/** Closes the open session with post-processing from `post` (if any); returns the post length in ms. */
function close(st: SessionBuilderState, post: StateInterval | null, p: EngineParams, out: Session[]): number {
  const o = st.open!;
  const postMs = post === null ? 0 : Math.min(p.post_max_s * 1000, post.end - post.start);
  out.push({
    start: o.start,
    end: o.end + postMs,
    active_s: o.active_ms / 1000,
    warmup_s: o.warmup_ms / 1000,
    post_s: postMs / 1000,
    energy_kwh: post === null ? o.energy_kwh : o.energy_kwh + energyOf(post, postMs),
  });
  st.open = null;
  st.trailing = null;
  return postMs;
}

/** Feeds the next interval (contiguous with the previous one, of a different state). */
export function sessionPush(st: SessionBuilderState, iv: StateInterval, p: EngineParams, out: Session[]): void {
  switch (iv.state) {
    case 'active': {
      if (st.open !== null && st.trailing !== null) {
        // A standby of at most merge_gap between two active periods: the session goes on through it.
        st.open.end = st.trailing.end;
        st.open.energy_kwh += st.trailing.energy_kwh;
        st.trailing = null;
      }
      if (st.open === null) {
        const warm = st.standby;
        let warmupMs = 0;
        let energy = 0;
        if (warm !== null && warm.interval.end === iv.start) {
          warmupMs = Math.max(0, Math.min(p.warmup_max_s * 1000, warm.interval.end - warm.avail_from));
          energy = energyOf(warm.interval, warmupMs);
        }
        st.open = { start: iv.start - warmupMs, end: iv.start, active_ms: 0, warmup_ms: warmupMs, energy_kwh: energy };
      }
      st.open.end = iv.end;
      st.open.active_ms += iv.end - iv.start;
      st.open.energy_kwh += iv.energy_kwh;
      st.standby = null;
      return;
    }
    case 'standby':
      if (st.open === null) {
        st.standby = { interval: iv, avail_from: iv.start };
      } else if (iv.end - iv.start > p.merge_gap_s * 1000) {
        // Too long to merge: the session ends now, without waiting for what follows the standby. Its first
        // post_max is post-processing; the rest may be the next session's warm-up.
        const postMs = close(st, iv, p, out);
        st.standby = { interval: iv, avail_from: iv.start + postMs };
      } else {
        st.trailing = iv;
      }
      return;
    default:
      if (st.open !== null) close(st, st.trailing, p, out);
      st.standby = null;
  }
}

/** Ends the stream as if no more data came (mutates `st`): the open session closes, with its post-processing. */
export function sessionFinish(st: SessionBuilderState, p: EngineParams, out: Session[]): void {
  if (st.open !== null) close(st, st.trailing, p, out);
  st.standby = null;
}

/** The earliest start a session not yet output can have (null: none pending, only intervals still to come). */
export function pendingSessionStart(st: SessionBuilderState, p: EngineParams): number | null {
  if (st.open !== null) return st.open.start;
  if (st.standby !== null) {
    const { interval, avail_from } = st.standby;
    return Math.max(avail_from, interval.end - p.warmup_max_s * 1000);
  }
  return null;
}

/** All sessions of a complete interval list (the stream ends with the list). */
export function buildSessions(intervals: Iterable<StateInterval>, p: EngineParams): Session[] {
  const st = newSessionBuilderState();
  const out: Session[] = [];
  for (const iv of intervals) sessionPush(st, iv, p, out);
  sessionFinish(st, p, out);
  return out;
}
