/**
 * MQTT driver (mqtt.js), read sample-and-hold: the driver subscribes to the topics of its profile and keeps the
 * device's latest values; each read() returns them (see the comment above `Driver` in driver.ts).
 *
 * Broker connection:
 * - One connection per broker and user (`mqtt:mqtt://user@host:port`), shared through ctx.shared by every
 *   device on that broker; each driver subscribes to its own topics, messages are dispatched by topic, and the
 *   last driver to close unsubscribes and ends the connection. Without ctx.shared the driver owns its connection.
 * - Clean sessions; mqtt.js reconnects every reconnectPeriodMs. The connection re-subscribes every topic itself
 *   after each (re)connect: mqtt.js's own `resubscribe` is off, because with it on a second subscription to a
 *   topic the client already has is never sent, and the broker would not deliver that topic's retained
 *   messages (LWT, availability) to the second device.
 * - Retained messages arrive at subscribe time; one equal to the payload already held for its topic (the broker
 *   re-sending it to another subscriber, or after a reconnect) does not refresh the value's age.
 *
 * Holding values:
 * - A message updates only the fields it carries (Shelly NotifyStatus deltas overlay the full status).
 * - A malformed payload (bad JSON, a value that is not a number) is counted and logged once per streak per
 *   topic; it never throws and never clears held values.
 * - Energy counters (fields in kWh) that go down by more than COUNTER_RESET_TOLERANCE_KWH are counted as a
 *   reset (device replaced or rebooted, Tasmota EnergyReset) and logged; the raw counter is still reported, and
 *   the collector's engine never makes a negative delta of it (it uses power for that step).
 *
 * read() rejects with JISHI_ERR_DEVICE_UNREACHABLE while the broker connection is down or the availability topic
 * says offline, and with JISHI_ERR_DEVICE_TIMEOUT before the first message or when the newest message is older
 * than the profile's staleAfterS (default 900 s) on ctx.clock.
 *
 * mqtt.js is loaded when the first driver opens, not with this module: an agent without MQTT devices never loads it.
 */
import { randomBytes } from 'node:crypto';
import type { connect as mqttConnect, IClientOptions, MqttClient } from 'mqtt';
import type { TimerHandle } from '../../common/clock.ts';
import { JishiError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { formatTransport, type MqttTransport } from '../../common/transport-url.ts';
import type { Readings } from '../../common/wire.ts';
import { decodeAvailability, decodeMessage, expandTopic, topicMatches } from '../../devices/mqtt-payload.ts';
import type { MqttMessage, MqttProfile } from '../../devices/profile.ts';
import type { DriverContext, DriverStats, PolledDriver, RawFrame, ReadResult } from './driver.ts';
import { SharedResources, type Lease } from './shared.ts';

/** Held values older than this are stale unless the profile says otherwise, s. */
export const DEFAULT_STALE_AFTER_S = 900;
/** An energy counter that drops by more than this (kWh) was reset. */
export const COUNTER_RESET_TOLERANCE_KWH = 0.001;
const DEFAULT_OPEN_TIMEOUT_MS = 5000;
const DEFAULT_RECONNECT_PERIOD_MS = 1000;
/** The wire protocol caps a sample's status text. */
const MAX_STATUS_LENGTH = 128;

export interface MqttDriverOptions {
  profile: MqttProfile;
  transport: MqttTransport;
  /** How long open() (and a first read) waits for the broker and the subscriptions, ms (default 5000). */
  openTimeoutMs?: number;
  /** Pause between reconnect attempts, ms (default 1000). The first driver on a broker sets it for the connection. */
  reconnectPeriodMs?: number;
}

type MessageListener = (topic: string, payload: Buffer, retained: boolean) => void;

/** mqtt.js, imported on first use: an agent without MQTT devices does without it (~90 modules, a few MB). */
export function loadMqtt(): Promise<{ connect: typeof mqttConnect }> {
  return import('mqtt');
}

/** The shared-resource key of a broker connection: scheme, user, host and port (never the password). */
export function brokerKey(t: MqttTransport): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  const user = t.username === undefined ? '' : `${encodeURIComponent(t.username)}@`;
  return `mqtt:${t.secure ? 'mqtts' : 'mqtt'}://${user}${host}:${t.port}`;
}

/**
 * One MQTT client to one broker, with a routing table of topic filters to listeners. It keeps its subscriptions
 * across reconnects (subscribing them again on every connect) and tells waiters when a filter is subscribed.
 */
export class BrokerConnection {
  readonly label: string;
  readonly #client: MqttClient;
  readonly #logger: Logger;
  readonly #routes = new Map<string, Set<MessageListener>>();
  readonly #subscribed = new Set<string>();
  readonly #waiters = new Set<() => void>();
  #connects = 0;
  #lastError: string | undefined;
  #ended = false;

  /** `connect`: mqtt.js's (loadMqtt()). */
  constructor(transport: MqttTransport, options: { reconnectPeriodMs: number; logger: Logger; connect: typeof mqttConnect }) {
    this.label = brokerKey(transport).slice('mqtt:'.length);
    this.#logger = options.logger;
    const clientOptions: IClientOptions = {
      protocol: transport.secure ? 'mqtts' : 'mqtt',
      host: transport.host,
      port: transport.port,
      clientId: `jishi-${randomBytes(6).toString('hex')}`,
      clean: true,
      resubscribe: false,
      reconnectPeriod: options.reconnectPeriodMs,
      connectTimeout: 10_000,
      keepalive: 30,
      ...(transport.username !== undefined ? { username: transport.username } : {}),
      ...(transport.password !== undefined ? { password: transport.password } : {}),
    };
    const client = options.connect(clientOptions);
    this.#client = client;
    client.on('connect', () => {
      this.#connects++;
      this.#lastError = undefined;
      if (this.#connects > 1) this.#logger.info({ broker: this.label, reconnects: this.#connects - 1 }, 'mqtt broker reconnected');
      this.#subscribe([...this.#routes.keys()]);
      this.#notify();
    });
    client.on('close', () => {
      if (this.#subscribed.size > 0 && !this.#ended) this.#logger.warn({ broker: this.label, error: this.#lastError }, 'mqtt broker connection lost');
      this.#subscribed.clear();
      this.#notify();
    });
    // Without a listener an 'error' event would crash the process; mqtt.js reconnects by itself.
    client.on('error', (err) => {
      // Logged when it changes (refused, not authorized...), not at every reconnect attempt.
      if (err.message !== this.#lastError) this.#logger.warn({ broker: this.label, err: err.message }, 'mqtt broker connection error; retrying');
      this.#lastError = err.message;
      this.#notify();
    });
    client.on('message', (topic, payload, packet) => {
      for (const [filter, listeners] of this.#routes) {
        if (!topicMatches(filter, topic)) continue;
        for (const listener of listeners) {
          try {
            listener(topic, payload, packet.retain);
          } catch (err) {
            this.#logger.error({ broker: this.label, topic, err }, 'mqtt message handler failed');
          }
        }
      }
    });
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  /** Connections made after the first one. */
  get reconnects(): number {
    return Math.max(0, this.#connects - 1);
  }

  /** The last connection error (e.g. `connect ECONNREFUSED 127.0.0.1:1883`), cleared on connect. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** True when every filter is subscribed on the current connection. */
  subscribedAll(filters: readonly string[]): boolean {
    return this.connected && filters.every((f) => this.#subscribed.has(f));
  }

  /** Routes messages on `filters` to `listener`, subscribing now when connected (else at the next connect). */
  add(filters: readonly string[], listener: MessageListener): void {
    const fresh: string[] = [];
    for (const f of filters) {
      let set = this.#routes.get(f);
      if (!set) {
        set = new Set();
        this.#routes.set(f, set);
      }
      set.add(listener);
      fresh.push(f);
    }
    // Subscribe again even to filters another driver holds: the broker then sends this device's retained messages.
    this.#subscribe(fresh);
  }

  /** Stops routing `filters` to `listener`; unsubscribes the filters nobody listens to any more. */
  remove(filters: readonly string[], listener: MessageListener): void {
    const orphans: string[] = [];
    for (const f of filters) {
      const set = this.#routes.get(f);
      if (!set) continue;
      set.delete(listener);
      if (set.size === 0) {
        this.#routes.delete(f);
        this.#subscribed.delete(f);
        orphans.push(f);
      }
    }
    if (orphans.length > 0 && this.connected && !this.#ended) this.#client.unsubscribeAsync(orphans).catch(() => undefined);
  }

  /** Resolves once `check()` holds (re-checked on every connection event and subscription), or at `signal`. */
  waitFor(check: () => boolean, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.#waiters.delete(probe);
        signal.removeEventListener('abort', onAbort);
      };
      const probe = (): void => {
        if (!check()) return;
        done();
        resolve();
      };
      const onAbort = (): void => {
        done();
        reject(signal.reason);
      };
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      this.#waiters.add(probe);
      signal.addEventListener('abort', onAbort, { once: true });
      probe();
    });
  }

  /** Closes the client for good (no reconnect), with a DISCONNECT when connected. Never rejects. */
  async end(): Promise<void> {
    this.#ended = true;
    this.#routes.clear();
    this.#subscribed.clear();
    const client = this.#client;
    await new Promise((resolve) => setImmediate(resolve)); // let a pending socket close land first
    const graceful = client.connected;
    let guard: ReturnType<typeof setTimeout> | undefined;
    // A shutdown safety net on the real clock: close must finish even if the socket died under the DISCONNECT.
    const forced = new Promise<void>((resolve) => {
      guard = setTimeout(() => {
        client.stream?.destroy();
        resolve();
      }, 500);
    });
    await Promise.race([client.endAsync(!graceful).catch(() => undefined), forced]);
    clearTimeout(guard);
    this.#notify();
  }

  #subscribe(filters: string[]): void {
    if (filters.length === 0 || !this.#client.connected || this.#ended) return;
    this.#client.subscribeAsync(filters, { qos: 0 }).then(
      (granted) => {
        for (const g of granted) {
          if (g.qos === 128) {
            this.#lastError = `the broker refused the subscription to ${g.topic}`;
            this.#logger.warn({ broker: this.label, topic: g.topic }, 'mqtt subscription refused');
          } else if (this.#routes.has(g.topic)) {
            this.#subscribed.add(g.topic);
          }
        }
        this.#notify();
      },
      (err: Error) => {
        // The connection dropped before the SUBACK: the next connect subscribes again.
        this.#lastError = err.message;
        this.#notify();
      },
    );
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }
}

/** The messages (of the profile) one topic feeds. */
interface Route {
  topic: string;
  messages: MqttMessage[];
}

/** Polled (sample-and-hold) driver for `mqtt://user:pass@host:port/<topic>` transports. */
export class MqttDriver implements PolledDriver {
  readonly kind = 'polled';
  readonly target: string;
  readonly #profile: MqttProfile;
  readonly #transport: MqttTransport;
  readonly #ctx: DriverContext;
  readonly #shared: SharedResources;
  readonly #openTimeoutMs: number;
  readonly #reconnectPeriodMs: number;
  readonly #staleAfterMs: number;
  readonly #routes: Route[];
  readonly #availabilityTopic: string | undefined;
  readonly #filters: string[];
  readonly #listener: MessageListener;

  #lease: Lease<BrokerConnection> | undefined;
  #opening: Promise<void> | undefined;
  #opened = false;
  #closed = false;

  readonly #values = new Map<string, number>();
  #status: string | undefined;
  #lastDataAt: number | undefined;
  readonly #raw = new Map<string, string>();
  #availability: { online: boolean; payload: string } | undefined;
  readonly #badStreak = new Set<string>();
  #malformed = 0;
  #resets = 0;

  constructor(options: MqttDriverOptions, ctx: DriverContext) {
    const { profile, transport } = options;
    if (profile.kind !== 'mqtt') throw new JishiError('JISHI_ERR_INTERNAL', `profile ${String((profile as { id?: unknown }).id)} is not an MQTT profile`);
    if (profile.messages.length === 0) throw new JishiError('JISHI_ERR_INTERNAL', `MQTT profile ${profile.id} has no messages`);
    this.#profile = profile;
    this.#transport = transport;
    this.#ctx = ctx;
    this.#shared = ctx.shared ?? new SharedResources();
    this.target = formatTransport(transport);
    this.#openTimeoutMs = options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    this.#reconnectPeriodMs = options.reconnectPeriodMs ?? DEFAULT_RECONNECT_PERIOD_MS;
    this.#staleAfterMs = (profile.staleAfterS ?? DEFAULT_STALE_AFTER_S) * 1000;
    const byTopic = new Map<string, MqttMessage[]>();
    for (const m of profile.messages) {
      const topic = expandTopic(m.topic, transport.topic);
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), m]);
    }
    this.#routes = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    this.#availabilityTopic = profile.availability ? expandTopic(profile.availability.topic, transport.topic) : undefined;
    this.#filters = [...new Set([...byTopic.keys(), ...(this.#availabilityTopic ? [this.#availabilityTopic] : [])])];
    this.#listener = (topic, payload, retained) => this.#onMessage(topic, payload, retained);
  }

  /** Connects (or joins the shared broker connection) and resolves once the device's topics are subscribed. */
  open(): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    if (this.#opened && this.#lease?.value.subscribedAll(this.#filters)) return Promise.resolve();
    this.#opening ??= this.#open().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async read(options: { raw?: boolean } = {}): Promise<ReadResult> {
    if (this.#closed) throw this.#closedError();
    // The first read connects and waits (up to openTimeoutMs); later ones answer at once from what is held,
    // while the connection retries in the background.
    if (!this.#lease) await this.open();
    const conn = this.#lease?.value;
    if (!conn) throw this.#closedError();
    if (!conn.connected) {
      const why = conn.lastError ? `: ${conn.lastError}` : '';
      throw new JishiError('JISHI_ERR_DEVICE_UNREACHABLE', `MQTT broker ${conn.label} is not connected${why}`, {
        details: { target: this.target, broker: conn.label },
      });
    }
    if (this.#availability && !this.#availability.online) {
      throw new JishiError(
        'JISHI_ERR_DEVICE_UNREACHABLE',
        `device offline: ${this.#availabilityTopic} says ${JSON.stringify(this.#availability.payload)}`,
        { details: { target: this.target, topic: this.#availabilityTopic, payload: this.#availability.payload } },
      );
    }
    const topics = this.#routes.map((r) => r.topic).join(', ');
    if (this.#lastDataAt === undefined) {
      throw new JishiError('JISHI_ERR_DEVICE_TIMEOUT', `no message from ${topics} yet`, { details: { target: this.target, topics } });
    }
    const ageMs = this.#ctx.clock.now() - this.#lastDataAt;
    if (ageMs > this.#staleAfterMs) {
      throw new JishiError(
        'JISHI_ERR_DEVICE_TIMEOUT',
        `no message from ${topics} for ${Math.round(ageMs / 1000)} s (values are stale after ${this.#staleAfterMs / 1000} s)`,
        { details: { target: this.target, topics, ageMs } },
      );
    }
    const readings: Readings = Object.fromEntries(this.#values);
    const result: ReadResult = { readings };
    if (this.#status !== undefined) result.status = this.#status;
    if (options.raw) {
      const raw: RawFrame[] = [];
      for (const topic of this.#filters) {
        const data = this.#raw.get(topic);
        if (data !== undefined) raw.push({ request: topic, data });
      }
      result.raw = raw;
    }
    return result;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const lease = this.#lease;
    this.#lease = undefined;
    if (!lease) return;
    try {
      lease.value.remove(this.#filters, this.#listener);
    } catch {
      // nothing to undo
    }
    await lease.release().catch(() => undefined);
  }

  stats(): DriverStats {
    const conn = this.#lease?.value;
    return { connected: conn?.connected ?? false, reconnects: conn?.reconnects ?? 0 };
  }

  /** Energy counter resets seen since the driver was created. */
  counterResets(): number {
    return this.#resets;
  }

  /** Payloads that could not be decoded (bad JSON, non-numeric values) since the driver was created. */
  malformedPayloads(): number {
    return this.#malformed;
  }

  #closedError(): JishiError {
    return new JishiError('JISHI_ERR_DEVICE_UNREACHABLE', `driver for ${this.target} is closed`);
  }

  async #open(): Promise<void> {
    const { clock } = this.#ctx;
    const abort = new AbortController();
    // The open timeout starts now, before mqtt.js is loaded (the first time): it bounds the whole open.
    let timer: TimerHandle | undefined = clock.setTimeout(() => abort.abort(), this.#openTimeoutMs);
    try {
      if (!this.#lease) {
        const { connect } = await loadMqtt();
        if (this.#closed) throw this.#closedError();
        this.#lease = this.#shared.acquire(
          brokerKey(this.#transport),
          () => new BrokerConnection(this.#transport, { reconnectPeriodMs: this.#reconnectPeriodMs, logger: this.#ctx.logger, connect }),
          (conn) => conn.end(),
        );
        this.#lease.value.add(this.#filters, this.#listener);
      }
      const conn = this.#lease.value;
      try {
        await conn.waitFor(() => this.#closed || conn.subscribedAll(this.#filters), abort.signal);
      } catch {
        const why = conn.lastError ? `: ${conn.lastError}` : '';
        const what = conn.connected ? `could not subscribe to ${this.#filters.join(', ')}` : `cannot reach MQTT broker ${conn.label}`;
        throw new JishiError('JISHI_ERR_DEVICE_UNREACHABLE', `${what} within ${this.#openTimeoutMs} ms${why}`, {
          details: { target: this.target, broker: conn.label },
        });
      }
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    }
    if (this.#closed) throw this.#closedError();
    this.#opened = true;
  }

  #onMessage(topic: string, payload: Buffer, retained: boolean): void {
    if (this.#closed) return;
    const text = payload.toString('utf8');
    if (retained && this.#raw.get(topic) === text) return;
    if (text.trim() !== '') this.#raw.set(topic, text);
    const { logger } = this.#ctx;
    const availability = this.#profile.availability;
    if (availability && this.#availabilityTopic !== undefined && topicMatches(this.#availabilityTopic, topic)) {
      const said = decodeAvailability(availability, text);
      if (said === undefined) {
        if (text.trim() !== '') logger.debug({ target: this.target, topic, payload: text }, 'mqtt availability payload not understood; ignored');
      } else {
        const online = said === 'online';
        if (this.#availability?.online !== online) logger.info({ target: this.target, topic, payload: text }, `mqtt device ${said}`);
        this.#availability = { online, payload: text.trim() };
      }
    }
    for (const route of this.#routes) {
      if (!topicMatches(route.topic, topic)) continue;
      for (const message of route.messages) this.#apply(topic, message, text);
    }
  }

  #apply(topic: string, message: MqttMessage, text: string): void {
    const decoded = decodeMessage(message, text);
    if (!decoded.matched) return;
    const { logger, clock } = this.#ctx;
    if (decoded.problems.length > 0) {
      this.#malformed++;
      if (!this.#badStreak.has(topic)) {
        this.#badStreak.add(topic);
        logger.warn(
          { target: this.target, topic, payload: text.length > 200 ? `${text.slice(0, 197)}...` : text, problems: decoded.problems },
          'mqtt payload could not be decoded; ignored (logged once until a good payload arrives)',
        );
      }
    } else if (this.#badStreak.delete(topic)) {
      logger.info({ target: this.target, topic }, 'mqtt payloads decode again');
    }
    let updated = false;
    for (const [field, value] of Object.entries(decoded.values)) {
      const unit = message.fields.find((f) => f.field === field)?.unit;
      const old = this.#values.get(field);
      if (unit?.toLowerCase() === 'kwh' && old !== undefined && value < old - COUNTER_RESET_TOLERANCE_KWH) {
        this.#resets++;
        logger.info({ target: this.target, topic, field, old, new: value, resets: this.#resets }, 'energy counter reset');
      }
      this.#values.set(field, value);
      updated = true;
    }
    if (decoded.status !== undefined) {
      this.#status = decoded.status.slice(0, MAX_STATUS_LENGTH);
      updated = true;
    }
    if (updated) this.#lastDataAt = clock.now();
  }
}
