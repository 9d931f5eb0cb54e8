/**
 * GET /api/v1/instruments: every instrument with its last reading and live state (the utilization engine's:
 * hysteresis, dwell, gaps, device status).
 * Readable without a token for now (the data is what a lab dashboard shows); access control is a later issue.
 */
import type { Clock } from '../../common/clock.ts';
import { INSTRUMENTS_PATH, InstrumentList, type InstrumentView } from '../../common/wire.ts';
import type { CollectorApp } from '../app.ts';
import type { EngineRunner } from '../engine-runner.ts';

/**
 * Every instrument with its last reading and live state: those seen, and the configured ones that never sent a
 * sample (as unknown, so a missing one is visible), by id.
 */
export function instrumentViews(
  app: CollectorApp,
  engine: EngineRunner,
  instruments: ReadonlyArray<{ id: string; name?: string }>,
  now: number,
): InstrumentView[] {
  const configured = new Map(instruments.map((s) => [s.id, s]));
  const seen = app.store.listInstruments().map((v): InstrumentView => {
    const live = engine.live(v.id, now);
    return { ...v, name: v.name ?? configured.get(v.id)?.name ?? null, state: live.state, state_since: live.since };
  });
  const seenIds = new Set(seen.map((v) => v.id));
  const unseen = instruments
    .filter((s) => !seenIds.has(s.id))
    .map(
      (s): InstrumentView => ({
        id: s.id,
        agent_id: null,
        name: s.name ?? null,
        state: 'unknown',
        state_since: null,
        last_seen: null,
        last_reading: null,
      }),
    );
  return [...seen, ...unseen].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export function registerInstrumentsRoute(
  app: CollectorApp,
  options: { clock: Clock; engine: EngineRunner; instruments: ReadonlyArray<{ id: string; name?: string }> },
): void {
  app.get(INSTRUMENTS_PATH, { schema: { response: { 200: InstrumentList } } }, async () => {
    const now = options.clock.now();
    return { server_time: now, instruments: instrumentViews(app, options.engine, options.instruments, now) };
  });
}
