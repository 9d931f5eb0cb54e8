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
