/**
 * GET /api/v1/agents: every registered agent, when its latest batch arrived and how far its clock is off,
 * so a manager sees dead agents and wrong clocks. Readable without a token, like /instruments.
 */
import { Type } from '@sinclair/typebox';
import type { Clock } from '../../common/clock.ts';
import { AgentStatusReport, API_PREFIX } from '../../common/wire.ts';
import type { CollectorApp } from '../app.ts';

export const AGENTS_PATH = `${API_PREFIX}/agents`;

const NullableInt = Type.Union([Type.Integer(), Type.Null()]);

export const AgentList = Type.Object({
  server_time: Type.Integer(),
  agents: Type.Array(
    Type.Object({
      id: Type.String(),
      last_batch_at: NullableInt,
      /** Seconds since its latest batch; null before the first. */
      silent_s: Type.Union([Type.Number(), Type.Null()]),
      batches: Type.Integer(),
      clock_skew_ms: NullableInt,
      clock_offset_ms: NullableInt,
      /** The agent's own health summary from its latest batch that carried one; null before. */
      status: Type.Union([AgentStatusReport, Type.Null()]),
    }),
  ),
});

export function registerAgentsRoute(app: CollectorApp, options: { clock: Clock }): void {
  app.get(AGENTS_PATH, { schema: { response: { 200: AgentList } } }, async () => {
    const now = options.clock.now();
    return {
      server_time: now,
      agents: app.store.listAgents().map((a) => ({ ...a, silent_s: a.last_batch_at === null ? null : (now - a.last_batch_at) / 1000 })),
    };
  });
}
