/**
 * Starts a real InfluxDB 1.x server (`influxd`) for integration tests: a generated config in a temp dir,
 * free loopback ports for the HTTP API and the RPC bind-address, no reporting, quiet logs.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../common/net.ts';
import { executable } from './require-tool.ts';
import { startServerProcess } from './server-process.ts';

/** The influxd binary: $JISHI_INFLUXD or /usr/bin/influxd. */
export const INFLUXD_PATH = process.env.JISHI_INFLUXD ?? '/usr/bin/influxd';

export interface RunningInfluxd {
  /** e.g. `http://127.0.0.1:38123` */
  url: string;
  port: number;
  /** Stops it for good and removes its data. */
  stop(): Promise<void>;
  /** Stops the process only (an outage): its data stays for restart(). */
  halt(): Promise<void>;
  /** Starts it again on the same port with the same data, after halt(). */
  restart(): Promise<void>;
  /** The running influxd's pid (undefined while halted). */
  pid(): number | undefined;
}

/** True when the influxd binary exists and is executable. */
export function influxdAvailable(): boolean {
  return executable(INFLUXD_PATH);
}

export { requireOrSkip } from './require-tool.ts';

function configToml(dir: string, httpPort: number, rpcPort: number): string {
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false
  trace-logging-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  auth-enabled = false
  log-enabled = false
  write-tracing = false

[logging]
  level = "error"
  suppress-logo = true

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false
  log-enabled = false

[retention]
  enabled = false
`;
}

async function ping(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    return res.status === 204;
  } catch {
    return false;
  }
}

/** Starts influxd and waits until GET /ping answers 204. Retries twice if a port was taken in between. */
export function startInfluxd(options: { deadlineMs?: number } = {}): Promise<RunningInfluxd> {
  return startServerProcess('jishi-influxd-', options.deadlineMs ?? 20_000, async (dir) => {
    const httpPort = await freePort();
    let rpcPort = await freePort();
    while (rpcPort === httpPort) rpcPort = await freePort();
    const configPath = join(dir, 'influxdb.conf');
    await writeFile(configPath, configToml(dir, httpPort, rpcPort));
    const url = `http://127.0.0.1:${httpPort}`;
    return {
      server: {
        name: 'influxd',
        command: INFLUXD_PATH,
        args: ['run', '-config', configPath],
        ready: () => ping(url),
        notReady: 'did not answer GET /ping',
        pollMs: 100,
      },
      info: { url, port: httpPort },
    };
  });
}
