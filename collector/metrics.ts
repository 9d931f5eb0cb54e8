/**
 * The collector's Prometheus metrics: a tiny registry (counters, gauges, histograms with label sets) rendered in
 * the text exposition format 0.0.4, and the collector's own metrics on top of it (docs/observability.md).
 *
 * Written here rather than taken from prom-client: the collector needs a dozen metrics, one registry per app
 * (tests build many apps in one process; prom-client's default registry and default metrics are process-global),
 * and gauges read at scrape time from the store; that is ~200 lines without a dependency.
 *
 * installMetrics() decorates the app with `app.metrics` and counts every answer with an onResponse hook, so no
 * route has to: requests by route pattern, method and status; errors by their JISHI_ERR_* code; rejected ingests
 * and the duration of stored ones. The ingest route reports what only it knows (stored vs duplicate, samples)
 * with `app.metrics.ingest(...)`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../common/clock.ts';
import { INGEST_PATH } from '../common/wire.ts';
import { answeredErrorCode } from './http/errors.ts';
import type { ForwarderStatus } from './influx/forwarder.ts';
import { JISHI_VERSION } from './version.ts';

/** The Content-Type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** HELP text: backslash and newline are escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A label value: backslash, double quote and newline are escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A sample value as Prometheus parses it (Go ParseFloat, plus +Inf / -Inf / NaN). */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function formatLabels(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i] ?? '')}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

abstract class Metric<V> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  /** Label values (in labelNames order) -> value, by a key joining them. */
  protected readonly series = new Map<string, { values: string[]; value: V }>();

  constructor(options: MetricOptions) {
    if (!METRIC_NAME.test(options.name)) throw new Error(`invalid metric name ${JSON.stringify(options.name)}`);
    const labelNames = options.labelNames ?? [];
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__') || l === 'le') throw new Error(`invalid label name ${JSON.stringify(l)} of ${options.name}`);
    }
    this.name = options.name;
    this.help = options.help;
    this.labelNames = labelNames;
  }

  /** The series of a label set, created with `init` on first use. Every label must be given, and no other. */
  protected entry(labels: Labels, init: () => V): { values: string[]; value: V } {
    const given = Object.keys(labels);
    if (given.length !== this.labelNames.length || this.labelNames.some((l) => typeof labels[l] !== 'string')) {
      throw new Error(`${this.name} takes the labels [${this.labelNames.join(', ')}], got [${given.join(', ')}]`);
    }
    const values = this.labelNames.map((l) => labels[l]!);
    const key = values.join('\u0000');
    let e = this.series.get(key);
    if (e === undefined) {
      e = { values, value: init() };
      this.series.set(key, e);
    }
    return e;
  }

  /** Drops every series (gauges that are recomputed on each scrape). */
  reset(): void {
    this.series.clear();
  }

  protected abstract samples(): string[];

  render(): string {
    return [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`, ...this.samples()].join('\n');
  }
}

export class Counter extends Metric<number> {
  readonly type = 'counter' as const;

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) throw new RangeError(`${this.name}: a counter only goes up (got ${by})`);
    this.entry(labels, () => 0).value += by;
  }

  /** Sets a total counted elsewhere (e.g. the process's CPU time, read at scrape time); it must not go down. */
  setTotal(labels: Labels, value: number): void {
    this.entry(labels, () => 0).value = value;
  }

  /** The current value of a series (0 when it was never incremented). */
  get(labels: Labels = {}): number {
    return this.series.get(this.labelNames.map((l) => labels[l] ?? '').join('\u0000'))?.value ?? 0;
  }

  protected samples(): string[] {
    if (this.series.size === 0 && this.labelNames.length === 0) return [`${this.name} 0`];
    return [...this.series.values()].map((e) => `${this.name}${formatLabels(this.labelNames, e.values)} ${formatValue(e.value)}`);
  }
}

export class Gauge extends Metric<number> {
  readonly type = 'gauge' as const;

  set(labels: Labels, value: number): void {
    this.entry(labels, () => 0).value = value;
  }

  get(labels: Labels = {}): number | undefined {
    return this.series.get(this.labelNames.map((l) => labels[l] ?? '').join('\u0000'))?.value;
  }

  protected samples(): string[] {
    return [...this.series.values()].map((e) => `${this.name}${formatLabels(this.labelNames, e.values)} ${formatValue(e.value)}`);
  }
}

interface HistogramValue {
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramValue> {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];

  constructor(options: MetricOptions & { buckets: readonly number[] }) {
    super(options);
    const b = [...options.buckets];
    if (b.length === 0 || b.some((x, i) => !Number.isFinite(x) || (i > 0 && x <= b[i - 1]!))) {
      throw new Error(`${options.name}: buckets must be finite and increasing`);
    }
    this.buckets = b;
  }

  observe(labels: Labels, value: number): void {
    if (Number.isNaN(value)) return;
    const e = this.entry(labels, () => ({ counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 })).value;
    let i = this.buckets.findIndex((upper) => value <= upper);
    if (i === -1) i = this.buckets.length;
    e.counts[i]! += 1;
    e.sum += value;
    e.count += 1;
  }

  /** Observations of a series so far. */
  count(labels: Labels = {}): number {
    return this.series.get(this.labelNames.map((l) => labels[l] ?? '').join('\u0000'))?.value.count ?? 0;
  }

  protected samples(): string[] {
    const lines: string[] = [];
    const series = this.series.size === 0 && this.labelNames.length === 0 ? [{ values: [], value: undefined }] : [...this.series.values()];
    for (const { values, value } of series) {
      let cumulative = 0;
      this.buckets.forEach((upper, i) => {
        cumulative += value?.counts[i] ?? 0;
        lines.push(`${this.name}_bucket${formatLabels(this.labelNames, values, ['le', formatValue(upper)])} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${formatLabels(this.labelNames, values, ['le', '+Inf'])} ${value?.count ?? 0}`);
      lines.push(`${this.name}_sum${formatLabels(this.labelNames, values)} ${formatValue(value?.sum ?? 0)}`);
      lines.push(`${this.name}_count${formatLabels(this.labelNames, values)} ${value?.count ?? 0}`);
    }
    return lines;
  }
}

/** A set of metrics rendered together; `collect` callbacks refresh scrape-time gauges first. */
export class MetricsRegistry {
  private readonly metrics: Array<{ readonly name: string; render(): string }> = [];
  private readonly collectors: Array<() => void> = [];

  private add<M extends { readonly name: string; render(): string }>(metric: M): M {
    if (this.metrics.some((m) => m.name === metric.name)) throw new Error(`metric ${metric.name} is registered twice`);
    this.metrics.push(metric);
    return metric;
  }

  counter(options: MetricOptions): Counter {
    return this.add(new Counter(options));
  }

  gauge(options: MetricOptions): Gauge {
    return this.add(new Gauge(options));
  }

  histogram(options: MetricOptions & { buckets: readonly number[] }): Histogram {
    return this.add(new Histogram(options));
  }

  /** Runs before every render (e.g. to set gauges from the store). A throw is passed to `onError` and skipped. */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }

  /** The text exposition (format 0.0.4), ending in a newline. */
  render(onError?: (err: unknown) => void): string {
    for (const c of this.collectors) {
      try {
        c();
      } catch (err) {
        onError?.(err);
      }
    }
    return `${this.metrics.map((m) => m.render()).join('\n')}\n`;
  }
}

/** Bucket upper bounds (seconds) of the ingest duration histogram: 1 ms .. 10 s. */
export const INGEST_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** An agent counts as seen when its latest batch arrived within this window (ms). */
export const AGENT_SEEN_WINDOW_MS = 5 * 60_000;

/** The `route` label of requests that matched no route (keeps the label set bounded under scans). */
export const UNMATCHED_ROUTE = '(unmatched)';

/** The `code` label of a 4xx/5xx answer that carried no JISHI_ERR_* code. */
export const UNKNOWN_CODE = 'unknown';

export interface CollectorMetricsOptions {
  clock: Clock;
  /** Agents with their latest batch time (the store's listAgents). */
  agents?: () => ReadonlyArray<{ last_batch_at: number | null }>;
  /** The InfluxDB forwarder's status, when forwarding is configured. */
  forwarderStatus?: () => ForwarderStatus;
  /** The store's size (Store.size). */
  storeSize?: () => { bytes: number; freeBytes: number };
  /** Where scrape-time failures (e.g. the store cannot be read) are reported. */
  onCollectError?: (err: unknown) => void;
}

/** What the ingest route reports about a batch it stored (or recognised as a duplicate). */
export interface IngestObservation {
  /** The batch had been stored before (nothing written). */
  duplicate: boolean;
  /** Samples stored by this request (IngestResult.accepted; 0 for a duplicate). */
  samples: number;
  /** Samples of the batch refused one by one (IngestAck.rejected), when there were any. */
  rejected?: ReadonlyArray<{ code: string; count: number }>;
}

export class CollectorMetrics {
  readonly registry = new MetricsRegistry();
  readonly ingestBatches: Counter;
  readonly ingestSamples: Counter;
  readonly ingestSamplesRejected: Counter;
  readonly ingestDuration: Histogram;
  readonly httpRequests: Counter;
  readonly httpErrors: Counter;
  readonly storeWriteErrors: Counter;
  private readonly options: CollectorMetricsOptions;

  constructor(options: CollectorMetricsOptions) {
    this.options = options;
    const r = this.registry;
    r.gauge({ name: 'jishi_up', help: 'Always 1 while the collector answers scrapes.' }).set({}, 1);
    r.gauge({ name: 'jishi_build_info', help: 'The jishi version of this collector (value 1).', labelNames: ['version'] }).set(
      { version: JISHI_VERSION },
      1,
    );
    this.ingestBatches = r.counter({
      name: 'jishi_ingest_batches_total',
      help: 'Ingest requests by result: accepted (stored), duplicate (stored before, nothing written), rejected (answered 4xx/5xx).',
      labelNames: ['result'],
    });
    for (const result of ['accepted', 'duplicate', 'rejected']) this.ingestBatches.inc({ result }, 0);
    this.ingestSamples = r.counter({ name: 'jishi_ingest_samples_total', help: 'Samples stored by accepted ingest batches.' });
    this.ingestSamplesRejected = r.counter({
      name: 'jishi_ingest_samples_rejected_total',
      help: 'Samples the ingest route refused one by one, by their JISHI_ERR_* code (the rest of their batch was stored).',
      labelNames: ['code'],
    });
    this.ingestDuration = r.histogram({
      name: 'jishi_ingest_batch_duration_seconds',
      help: 'Time from receiving an ingest request to sending its acknowledgement, for stored and duplicate batches.',
      buckets: INGEST_DURATION_BUCKETS,
    });
    this.httpRequests = r.counter({
      name: 'jishi_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status code.',
      labelNames: ['route', 'method', 'status'],
    });
    this.httpErrors = r.counter({
      name: 'jishi_http_errors_total',
      help: 'HTTP 4xx/5xx answers by their JISHI_ERR_* code (malformed HTTP included).',
      labelNames: ['code'],
    });
    this.storeWriteErrors = r.counter({
      name: 'jishi_store_write_errors_total',
      help: 'Write requests (ingest, bookings, registry) answered 503 because the store could not commit.',
    });
    const agentsSeen = r.gauge({ name: 'jishi_agents_seen', help: 'Agents whose latest batch arrived in the last 5 minutes.' });
    const forwarderPending = options.forwarderStatus
      ? r.gauge({ name: 'jishi_forwarder_pending', help: 'Readings and engine results in the store not yet forwarded to InfluxDB.' })
      : undefined;
    const storeBytes = options.storeSize
      ? r.gauge({ name: 'jishi_store_bytes', help: 'Size of the store database in bytes (free pages included, the write-ahead log not).' })
      : undefined;
    const storeFreeBytes = options.storeSize
      ? r.gauge({ name: 'jishi_store_free_bytes', help: 'Free pages of the store database in bytes (reused before the file grows).' })
      : undefined;
    const rss = r.gauge({ name: 'jishi_process_resident_memory_bytes', help: 'Resident set size of the collector process in bytes.' });
    const heap = r.gauge({ name: 'jishi_process_heap_used_bytes', help: 'V8 heap in use by the collector process in bytes.' });
    const cpu = r.counter({ name: 'jishi_process_cpu_seconds_total', help: 'User and system CPU time of the collector process in seconds.' });
    r.gauge({ name: 'jishi_process_start_time_seconds', help: 'Start time of the collector process since the Unix epoch in seconds.' }).set(
      {},
      Math.round((Date.now() - process.uptime() * 1000) / 1000),
    );

    r.onCollect(() => {
      const mem = process.memoryUsage();
      rss.set({}, mem.rss);
      heap.set({}, mem.heapUsed);
      const usage = process.cpuUsage();
      cpu.setTotal({}, (usage.user + usage.system) / 1e6);
    });
    r.onCollect(() => {
      if (forwarderPending && options.forwarderStatus) forwarderPending.set({}, options.forwarderStatus().pending);
    });
    r.onCollect(() => {
      if (!options.storeSize || !storeBytes || !storeFreeBytes) return;
      const size = options.storeSize();
      storeBytes.set({}, size.bytes);
      storeFreeBytes.set({}, size.freeBytes);
    });
    r.onCollect(() => {
      if (!options.agents) return;
      agentsSeen.reset();
      const since = options.clock.now() - AGENT_SEEN_WINDOW_MS;
      agentsSeen.set({}, options.agents().filter((a) => a.last_batch_at !== null && a.last_batch_at >= since).length);
    });
  }

  /** Called by the ingest route after the store committed a batch (or found it a duplicate). */
  ingest(o: IngestObservation): void {
    this.ingestBatches.inc({ result: o.duplicate ? 'duplicate' : 'accepted' });
    if (o.samples > 0) this.ingestSamples.inc({}, o.samples);
    if (o.rejected !== undefined) this.rejectedSamples(o.rejected);
  }

  /** Samples refused one by one (also when the whole batch was refused for them: 422 JISHI_ERR_SAMPLES_REJECTED). */
  rejectedSamples(rejected: ReadonlyArray<{ code: string; count: number }>): void {
    for (const r of rejected) if (r.count > 0) this.ingestSamplesRejected.inc({ code: r.code }, r.count);
  }

  /** Counts one HTTP answer (the onResponse hook calls this). */
  response(route: string, method: string, status: number, errorCode: string | undefined): void {
    this.httpRequests.inc({ route, method, status: String(status) });
    if (status >= 400) this.httpErrors.inc({ code: errorCode ?? UNKNOWN_CODE });
  }

  /** Counts an answer to a router error (bad URL escape, path parameter too long): no route, no onResponse hook. */
  frameworkError(method: string, status: number, code: string): void {
    this.response(UNMATCHED_ROUTE, method, status, code);
  }

  /** Counts an error answered outside Fastify's request cycle (malformed HTTP on the socket). */
  clientError(code: string): void {
    this.httpErrors.inc({ code });
  }

  /** The text exposition of every metric. */
  render(): string {
    return this.registry.render(this.options.onCollectError);
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The collector's metrics (decorated by installMetrics). */
    metrics: CollectorMetrics;
  }
}

export interface InstallMetricsOptions {
  clock: Clock;
  forwarderStatus?: (() => ForwarderStatus) | undefined;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Decorates `app.metrics` and adds the hook that counts every answer. Call it on the root instance before the
 * routes are registered (buildApp does).
 */
export function installMetrics(app: FastifyInstance, options: InstallMetricsOptions): CollectorMetrics {
  const metrics = new CollectorMetrics({
    clock: options.clock,
    agents: () => app.store.listAgents(),
    storeSize: () => app.store.size(),
    ...(options.forwarderStatus ? { forwarderStatus: options.forwarderStatus } : {}),
    onCollectError: (err) => app.log.warn({ err }, 'metrics: a scrape-time value could not be read'),
  });
  app.decorate('metrics', metrics);
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const status = reply.statusCode;
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const code = status >= 400 ? answeredErrorCode(reply) : undefined;
    metrics.response(route, request.method, status, code);
    if (code === 'JISHI_ERR_STORE_UNAVAILABLE' && WRITE_METHODS.has(request.method)) metrics.storeWriteErrors.inc();
    if (route === INGEST_PATH && request.method === 'POST') {
      if (status >= 400) metrics.ingestBatches.inc({ result: 'rejected' });
      else metrics.ingestDuration.observe({}, reply.elapsedTime / 1000);
    }
  });
  return metrics;
}
