/**
 * GET /healthz: liveness plus a store check (503 JISHI_ERR_STORE_UNAVAILABLE when the store cannot be read), and
 * the InfluxDB forwarding backlog when forwarding is configured (an InfluxDB outage shows here, nothing is lost).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Clock } from '../../common/clock.ts';
import type { CollectorApp } from '../app.ts';
import type { ForwarderStatus } from '../influx/forwarder.ts';
import { JISHI_VERSION } from '../version.ts';

export const HEALTH_PATH = '/healthz';

export const HealthBody = Type.Object({
  status: Type.Literal('ok'),
  version: Type.String(),
  /** The collector's clock (ms since epoch). */
  server_time: Type.Integer(),
  /** Forwarding to InfluxDB, when configured: the backlog waiting in the store and the last outcome. */
  influx: Type.Optional(
    Type.Object({
      pending: Type.Integer(),
      last_error: Type.Union([Type.String(), Type.Null()]),
      last_success_at: Type.Union([Type.Integer(), Type.Null()]),
      forwarded: Type.Integer(),
      skipped: Type.Integer(),
    }),
  ),
});
export type HealthBody = Static<typeof HealthBody>;

export function registerHealthRoute(app: CollectorApp, clock: Clock, forwarder?: () => ForwarderStatus): void {
  app.get(HEALTH_PATH, { schema: { response: { 200: HealthBody } } }, async () => {
    app.store.ping();
    const f = forwarder?.();
    return {
      status: 'ok' as const,
      version: JISHI_VERSION,
      server_time: clock.now(),
      ...(f
        ? { influx: { pending: f.pending, last_error: f.lastError, last_success_at: f.lastSuccessAt, forwarded: f.forwarded, skipped: f.skipped } }
        : {}),
    };
  });
}
