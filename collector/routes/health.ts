/** GET /healthz: liveness plus a store check (503 JISHI_ERR_STORE_UNAVAILABLE when the store cannot be read). */
import { Type, type Static } from '@sinclair/typebox';
import type { Clock } from '../../common/clock.ts';
import type { CollectorApp } from '../app.ts';
import { JISHI_VERSION } from '../version.ts';

export const HEALTH_PATH = '/healthz';

export const HealthBody = Type.Object({
  status: Type.Literal('ok'),
  version: Type.String(),
  /** The collector's clock (ms since epoch). */
  server_time: Type.Integer(),
});
export type HealthBody = Static<typeof HealthBody>;

export function registerHealthRoute(app: CollectorApp, clock: Clock): void {
  app.get(HEALTH_PATH, { schema: { response: { 200: HealthBody } } }, async () => {
    app.store.ping();
    return { status: 'ok' as const, version: JISHI_VERSION, server_time: clock.now() };
  });
}
