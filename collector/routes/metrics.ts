/**
 * GET /metrics: the collector's Prometheus metrics in the text exposition format 0.0.4 (docs/observability.md).
 * The metrics themselves are installed by installMetrics (collector/metrics.ts) before the routes.
 */
import type { FastifyInstance } from 'fastify';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics.ts';

export const METRICS_PATH = '/metrics';

export function registerMetricsRoute(app: FastifyInstance): void {
  app.get(METRICS_PATH, async (_request, reply) => reply.type(PROMETHEUS_CONTENT_TYPE).send(app.metrics.render()));
}
