// Health check of the jishi image's services (plain JavaScript: it must start fast and needs no tsx).
//   node healthcheck.mjs [URL]
// URL: http://HOST:PORT/PATH (healthy when it answers 2xx within the timeout) or tcp://HOST:PORT (healthy when
// it accepts a connection). Default: $JISHI_HEALTHCHECK_URL, else the collector's http://127.0.0.1:8080/healthz.
// Exit code 0 healthy, 1 not (with the reason on stderr, which `docker inspect` shows).
import net from 'node:net';

const TIMEOUT_MS = 4000;
const target = process.argv[2] ?? process.env.JISHI_HEALTHCHECK_URL ?? 'http://127.0.0.1:8080/healthz';

function fail(reason) {
  process.stderr.write(`unhealthy: ${target}: ${reason}\n`);
  process.exit(1);
}

let url;
try {
  url = new URL(target);
} catch {
  fail('not a URL');
}

if (url.protocol === 'tcp:') {
  const socket = net.connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) });
  socket.setTimeout(TIMEOUT_MS, () => fail('no connection within the timeout'));
  socket.once('connect', () => {
    socket.destroy();
    process.exit(0);
  });
  socket.once('error', (err) => fail(err.message));
} else if (url.protocol === 'http:' || url.protocol === 'https:') {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (!res.ok) fail(`answered ${res.status} ${(await res.text()).slice(0, 200)}`);
    process.exit(0);
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
} else {
  fail('only http:, https: and tcp: URLs are checked');
}
