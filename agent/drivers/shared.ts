/**
 * Connections that several drivers of one agent share: an RS-485 port with several Modbus units on it, one TCP
 * connection to a Modbus TCP gateway for every unit behind it, one MQTT broker connection for every plug on that
 * broker. A driver acquires the resource by key (e.g. the port path, the gateway's host:port, the broker URL); the
 * first acquire creates it, the last release closes it. One SharedResources per agent (the
 * agent creates it and passes it in the DriverContext), so agents and tests in one process never share by accident.
 */
export interface Lease<T> {
  readonly value: T;
  /** Gives the resource back; the last release closes it. Idempotent; never rejects. */
  release(): Promise<void>;
}

interface Entry {
  value: unknown;
  refs: number;
  close: () => Promise<void>;
}

export class SharedResources {
  readonly #items = new Map<string, Entry>();

  /**
   * The resource under `key`, created with `create()` when nobody holds it. `close` runs when the last lease is
   * released. Keys of different resource kinds must not collide: prefix them (`rtu:/dev/ttyUSB0`, `modbus-tcp:tcp:host:502`, `mqtt:host:1883`).
   */
  acquire<T>(key: string, create: () => T, close: (value: T) => Promise<void>): Lease<T> {
    let entry = this.#items.get(key);
    if (!entry) {
      const value = create();
      entry = { value, refs: 0, close: () => close(value) };
      this.#items.set(key, entry);
    }
    entry.refs++;
    const held = entry;
    let released = false;
    return {
      value: held.value as T,
      release: async () => {
        if (released) return;
        released = true;
        held.refs--;
        if (held.refs > 0) return;
        if (this.#items.get(key) === held) this.#items.delete(key);
        await held.close().catch(() => undefined);
      },
    };
  }

  /** Keys currently held (for status and tests). */
  keys(): string[] {
    return [...this.#items.keys()];
  }
}

/**
 * One driver's connection (a Modbus TCP gateway, an RS-485 port): leased from the agent's SharedResources under
 * `key` when the driver context has them, else the driver's own; with the reconnects the driver saw (the
 * connection's generation changing between two of its uses).
 */
export class DriverConnection<T extends { readonly isOpen: boolean; close(): Promise<void> }> {
  readonly #key: string;
  readonly #create: () => T;
  readonly #shared: SharedResources | undefined;
  #value: T | undefined;
  #lease: Lease<T> | undefined;
  #generation: number | undefined;
  #reconnects = 0;
  #closed = false;

  constructor(key: string, create: () => T, shared: SharedResources | undefined) {
    this.#key = key;
    this.#create = create;
    this.#shared = shared;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get reconnects(): number {
    return this.#reconnects;
  }

  /** The connection if it was acquired and not closed (no acquiring). */
  get current(): T | undefined {
    return this.#closed ? undefined : this.#value;
  }

  /** The connection, created or leased on first use. Callers check `closed` first (they throw their own error). */
  acquire(): T {
    if (this.#value === undefined) {
      if (this.#shared) {
        this.#lease = this.#shared.acquire(this.#key, this.#create, (value) => value.close());
        this.#value = this.#lease.value;
      } else {
        this.#value = this.#create();
      }
    }
    return this.#value;
  }

  /** Records the generation the connection had at a use; true when it changed since the previous one (a reconnect). */
  note(generation: number): boolean {
    const changed = this.#generation !== undefined && generation !== this.#generation;
    if (changed) this.#reconnects++;
    this.#generation = generation;
    return changed;
  }

  get connected(): boolean {
    return !this.#closed && this.#value !== undefined && this.#value.isOpen;
  }

  /** Gives a leased connection back (the last holder closes it) or closes the driver's own. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const lease = this.#lease;
    const value = this.#value;
    this.#lease = undefined;
    if (lease) await lease.release();
    else if (value) await value.close();
  }
}
