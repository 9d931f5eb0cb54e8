/**
 * The collector's HTTP app factory: builds a Fastify instance with the routes, the store decorated on it and
 * one error handler; it does not listen (server.ts does; tests use app.inject()).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { systemClock, type Clock } from '../common/clock.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import { clientErrorHandler, frameworkErrorHandler, installErrorHandlers } from './http/errors.ts';
import { installMetrics } from './metrics.ts';
import { installOpenApi, registerOpenApiRoute } from './openapi.ts';
import { registerMetricsRoute } from './routes/metrics.ts';
import type { ForwarderStatus } from './influx/forwarder.ts';
import { registerHealthRoute } from './routes/health.ts';
import { registerIngestRoute, type IngestEvent, type IngestPolicy } from './routes/ingest.ts';
import { registerAgentsRoute } from './routes/agents.ts';
import { registerInstrumentsRoute } from './routes/instruments.ts';
import { registerSharingRoutes, type SharingRouteOptions } from './routes/sharing.ts';
import { Access, type AccessOptions } from './access.ts';
import { registerUtilizationRoutes, type UtilizationRouteOptions } from './routes/utilization.ts';
import { registerWebConsole } from './routes/web.ts';
import { DEFAULT_RATED_HOURS_PER_YEAR } from './engine/rated.ts';
import { COLLECTOR_DEFAULTS } from './config-schema.ts';

/** Original value (CNY) from which an instrument is in the assessment, unless configured (DOMAIN: national scope). */
export const DEFAULT_LARGE_INSTRUMENT_THRESHOLD_CNY = COLLECTOR_DEFAULTS.large_instrument_threshold_cny;
import type { EngineRunner } from './engine-runner.ts';
import type { Store } from './store/store.ts';

export type { IngestEvent };

/** The collector app's Fastify type (TypeBox type provider). */
export type CollectorApp = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

declare module 'fastify' {
  interface FastifyInstance {
    /** Who may do what (tokens, roles, the failed-authentication limit). */
    access: Access;
    /** The collector's store (decorated by buildApp). */
    store: Store;
  }
}

/** Default threshold beyond which an agent's sample times are corrected by its measured clock offset. */
export const DEFAULT_CLOCK_SKEW_THRESHOLD_MS = 2000;

/** Largest request body accepted (4 MiB): a full batch of 5000 samples with all known fields fits. */
export const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;

export interface BuildAppOptions {
  store: Store;
  /** Close the store when the app closes (default false: the caller owns it). */
  ownsStore?: boolean;
  clock?: Clock;
  /** Logger handed to Fastify (default: silent). Per-request lines are off; ingest logs at debug. */
  logger?: Logger;
  /** Request body limit in bytes (default DEFAULT_BODY_LIMIT). */
  bodyLimit?: number;
  /** The utilization engine: live state and its changes, states, sessions and rollups. */
  engine: EngineRunner;
  /**
   * The configured instruments (the collector config's `instruments`): names, rated hours and service periods.
   * Listed instruments that never sent a sample are shown as `unknown`. Default: none.
   */
  registry?: UtilizationRouteOptions['instruments'];
  /** Rated hours per year of instruments without their own (default 1400). */
  defaultRatedHours?: number;
  /** Status of the InfluxDB forwarder, shown by /healthz (absent: no forwarding). */
  forwarderStatus?: () => ForwarderStatus;
  /** Agent clocks further off than this (ms) get their sample times corrected (default 2000). */
  clockSkewThresholdMs?: number;
  /** Called after every stored ingest (also duplicates), synchronously; a throw is logged, never answered. */
  onIngest?: (event: IngestEvent) => void;
  /** Registry, bookings and the annual export: admins, the large-instrument threshold (default: no admin, 500000 CNY). */
  sharing?: Partial<Pick<SharingRouteOptions, 'admins' | 'thresholdCny'>>;
  /** Viewers, read access, the failed-authentication limit (default: no viewers, open reads, 30 a minute). */
  access?: Partial<Pick<AccessOptions, 'viewers' | 'readAccess' | 'authFailuresPerMinute'>>;
  /** What ingest accepts beyond the schema, and its load limit (default DEFAULT_INGEST_POLICY). */
  ingestPolicy?: IngestPolicy;
  /** Serve HTTPS with these PEM contents. */
  https?: { cert: string | Buffer; key: string | Buffer };
  /** Behind a reverse proxy: Fastify's trustProxy (true, or the proxy addresses). */
  trustProxy?: boolean | string;
}

export function buildApp(options: BuildAppOptions): CollectorApp {
  const clock = options.clock ?? systemClock;
  const { engine } = options;
  const registry = options.registry ?? [];
  const app: CollectorApp = Fastify({
    ...(options.https ? { https: options.https } : {}),
    ...(options.trustProxy !== undefined && options.trustProxy !== false ? { trustProxy: options.trustProxy } : {}),
    loggerInstance: (options.logger ?? silentLogger()) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // The wire protocol is strict: no type coercion, no silent removal of unknown properties.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // Router errors (bad URL escapes) and unparsable HTTP are answered with ErrorBody codes too.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only: without a text/plain parser, other content types get 415.
  app.removeContentTypeParser('text/plain');
  app.decorate('store', options.store);
  if (options.ownsStore === true) app.addHook('onClose', async () => options.store.close());
  installErrorHandlers(app);
  installMetrics(app, { clock, forwarderStatus: options.forwarderStatus });
  installOpenApi(app);

  const access = new Access({
    admins: options.sharing?.admins ?? [],
    viewers: options.access?.viewers ?? [],
    agentForTokenHash: (hash) => options.store.agentForTokenHash(hash),
    readAccess: options.access?.readAccess ?? 'open',
    authFailuresPerMinute: options.access?.authFailuresPerMinute ?? 30,
    clock,
  });
  app.decorate('access', access);
  if (access.readAccess === 'token') {
    // Reads need a token of any role; /healthz stays open for probes and load balancers.
    app.addHook('onRequest', async (request) => {
      if ((request.method === 'GET' || request.method === 'HEAD') && request.url.startsWith('/api/')) access.require(request, ['viewer', 'admin', 'agent'], 'reading');
    });
  }

  registerHealthRoute(app, clock, options.forwarderStatus);
  registerMetricsRoute(app);
  registerOpenApiRoute(app);
  registerIngestRoute(app, {
    clock,
    engine,
    access,
    ...(options.ingestPolicy ? { policy: options.ingestPolicy } : {}),
    clockSkewThresholdMs: options.clockSkewThresholdMs ?? DEFAULT_CLOCK_SKEW_THRESHOLD_MS,
    ...(options.onIngest ? { onIngest: options.onIngest } : {}),
  });
  registerAgentsRoute(app, { clock });
  registerInstrumentsRoute(app, { clock, engine, instruments: registry });
  registerUtilizationRoutes(app, {
    clock,
    engine,
    instruments: registry,
    defaultRatedHours: options.defaultRatedHours ?? DEFAULT_RATED_HOURS_PER_YEAR,
  });
  registerSharingRoutes(app, {
    clock,
    engine,
    admins: options.sharing?.admins ?? [],
    instrumentIds: registry.map((i) => i.id),
    defaultRatedHours: options.defaultRatedHours ?? DEFAULT_RATED_HOURS_PER_YEAR,
    thresholdCny: options.sharing?.thresholdCny ?? DEFAULT_LARGE_INSTRUMENT_THRESHOLD_CNY,
  });
  registerWebConsole(app, { clock, engine, instruments: registry });
  return app;
}
