/**
 * The part of `fetch` the agent's uplink uses (a request with a string body, the status, one header, the text of the
 * answer), on node:http / node:https with keep-alive.
 *
 * Why not the global fetch: it loads undici, Node's bundled HTTP client, on first use: about 11 MB of resident
 * memory in a process as small as the agent (measured on Node 20: 20 POSTs with fetch 59 MB, with node:http
 * 48 MB; docs/benchmarks.md). The shape is fetch's, so `fetch` itself can be passed where a HttpPost is expected
 * (tests do), and failures look like fetch's: a TypeError `fetch failed` whose `cause` is the socket error
 * (`cause.code`: ECONNREFUSED, ...); an aborted signal rejects with the signal's reason.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpPostInit {
  method: string;
  headers: Record<string, string>;
  body: string;
  signal?: AbortSignal;
}

export interface HttpPostResponse {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export type HttpPost = (url: string, init: HttpPostInit) => Promise<HttpPostResponse>;

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 4 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 4 });

function failed(cause: unknown): TypeError {
  return new TypeError('fetch failed', { cause });
}

/** Sends the request; resolves once the whole answer is read (the agent's answers are small). */
export const httpPost: HttpPost = (url, init) =>
  new Promise<HttpPostResponse>((resolve, reject) => {
    const { signal } = init;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const target = new URL(url);
    const https = target.protocol === 'https:';
    if (!https && target.protocol !== 'http:') {
      reject(failed(new Error(`unsupported protocol ${target.protocol}`)));
      return;
    }
    const body = Buffer.from(init.body, 'utf8');
    const req = (https ? httpsRequest : httpRequest)(target, {
      method: init.method,
      headers: { ...init.headers, 'content-length': String(body.length) },
      agent: https ? httpsAgent : httpAgent,
    });
    let settled = false;
    /** Settles once: the first of answer, error and abort wins. */
    const settle = (outcome: () => void): void => {
      signal?.removeEventListener('abort', onAbort);
      if (settled) return;
      settled = true;
      outcome();
    };
    const onAbort = (): void => {
      req.destroy();
      settle(() => reject(signal!.reason));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => settle(() => reject(failed(err))));
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => settle(() => reject(failed(err))));
      res.on('end', () =>
        settle(() => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: {
              get(name: string): string | null {
                const v = res.headers[name.toLowerCase()];
                return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
              },
            },
            text: () => Promise.resolve(text),
          });
        }),
      );
    });
    req.end(body);
  });
