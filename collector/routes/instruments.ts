/**
 * GET /api/v1/instruments: every instrument with its last reading and live state (the utilization engine's:
 * hysteresis, dwell, gaps, device status).
 * Readable without a token for now (the data is what a lab dashboard shows); access control is a later issue.
 */
import type { Clock } from '../../common/clock.ts';
import { INSTRUMENTS_PATH, InstrumentList, type InstrumentView } from '../../common/wire.ts';
import type { CollectorApp } from '../app.ts';
import type { EngineRunner } from '../engine-runner.ts';

export function registerInstrumentsRoute(
  app: CollectorApp,
  options: { clock: Clock; engine: EngineRunner; instruments: ReadonlyArray<{ id: string; name?: string }> },
): void {
  app.get(INSTRUMENTS_PATH, { schema: { response: { 200: InstrumentList } } }, async () => {
    const now = options.clock.now();
    const configured = new Map(options.instruments.map((s) => [s.id, s]));
    const seen = app.store.listInstruments().map((v): InstrumentView => {
      const live = options.engine.live(v.id, now);
      return { ...v, name: v.name ?? configured.get(v.id)?.name ?? null, state: live.state, state_since: live.since };
    });
    const seenIds = new Set(seen.map((v) => v.id));
    // Configured instruments that never sent a sample are listed as unknown, so a missing one is visible.
    const unseen = options.instruments
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
    const instruments = [...seen, ...unseen].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { server_time: now, instruments };
  });
}
