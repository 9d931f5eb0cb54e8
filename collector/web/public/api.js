// @ts-check
/**
 * The collector's JSON API as the console uses it: same origin, an optional bearer token (for collectors with
 * `read_access: token`, kept in localStorage), and the live feed GET /api/v1/events read as a server-sent event
 * stream over fetch (EventSource cannot send a token), reconnecting when it drops.
 */

const TOKEN_KEY = 'jishi.token';

/** Raised for every answer that is not 2xx; `code` is the collector's JISHI_ERR_* code when it sent one. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {any} [body] the answer's JSON (a 422 of POST /api/v1/bookings lists the bad rows)
   */
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/** @type {Set<() => void>} */
const unauthorizedListeners = new Set();

/** @param {() => void} f called when the collector answers 401 (a token is needed, or the saved one is wrong) */
export function onUnauthorized(f) {
  unauthorizedListeners.add(f);
  return () => unauthorizedListeners.delete(f);
}

export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

/** @param {string} token empty forgets it */
export function setToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled
  }
}

/** @returns {Record<string, string>} */
function authHeaders() {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

/**
 * GET a JSON resource of the collector.
 * @param {string} path
 * @param {AbortSignal} [signal]
 * @returns {Promise<any>}
 */
export async function getJson(path, signal) {
  const res = await fetch(path, { headers: { accept: 'application/json', ...authHeaders() }, cache: 'no-store', ...(signal ? { signal } : {}) });
  if (res.status === 401) for (const f of unauthorizedListeners) f();
  return jsonOrError(res);
}

/**
 * The JSON of an answer; an ApiError (with the collector's code, message and body) when it is not 2xx.
 * @param {Response} res
 * @returns {Promise<any>}
 */
async function jsonOrError(res) {
  /** @type {any} */
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON
  }
  if (!res.ok) throw new ApiError(res.status, body?.code ?? `HTTP_${res.status}`, body?.message ?? `${res.status} ${res.statusText}`, body);
  return body;
}

/**
 * POSTs a file's bytes as they are (a bookings CSV may be GBK: the collector decodes it) with the saved token, and
 * returns the JSON answer. The file name goes in X-File-Name, percent-encoded (RFC 8187) when it is not ASCII.
 * @param {string} path
 * @param {File} file
 * @param {string} contentType
 * @returns {Promise<any>}
 */
export async function postFile(path, file, contentType) {
  const name = /^[\x20-\x7e]*$/.test(file.name) ? file.name : `UTF-8''${encodeURIComponent(file.name)}`;
  const res = await fetch(path, {
    method: 'POST',
    body: file,
    headers: { 'content-type': contentType, 'x-file-name': name, accept: 'application/json', ...authHeaders() },
  });
  // A 401 here does not open the token prompt by itself (the page would lose the answer): see askForToken.
  return jsonOrError(res);
}

/**
 * DELETE a resource with the saved token; returns the JSON answer. Like postFile, a 401 does not open the token
 * prompt by itself.
 * @param {string} path
 * @returns {Promise<any>}
 */
export async function deleteJson(path) {
  const res = await fetch(path, { method: 'DELETE', headers: { accept: 'application/json', ...authHeaders() } });
  return jsonOrError(res);
}

/** Opens the console's token prompt (the one a 401 of a read opens), e.g. to enter an admin's token. */
export function askForToken() {
  for (const f of unauthorizedListeners) f();
}

/**
 * Follows a download link with the saved token (a plain link cannot carry one): fetches the file and saves it
 * under the name the collector gives. Without a token the browser follows the link itself.
 * @param {MouseEvent} event the click on an <a href download>
 */
export async function downloadWithToken(event) {
  const token = getToken();
  const a = /** @type {HTMLAnchorElement | null} */ (event.currentTarget);
  if (!token || !a) return;
  event.preventDefault();
  const res = await fetch(a.href, { headers: authHeaders() });
  if (!res.ok) {
    if (res.status === 401) for (const f of unauthorizedListeners) f();
    return;
  }
  const disposition = res.headers.get('content-disposition') ?? '';
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? a.getAttribute('download') ?? 'download';
  const url = URL.createObjectURL(await res.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * @typedef {'connecting' | 'live' | 'reconnecting'} StreamStatus
 */

/**
 * Subscribes to a server-sent event stream. Returns a function that closes it.
 * @param {string} path
 * @param {Record<string, (data: any) => void>} handlers by event name
 * @param {(status: StreamStatus) => void} [onStatus]
 */
export function subscribe(path, handlers, onStatus = () => {}) {
  let stopped = false;
  let retryMs = 3000;
  /** @type {AbortController | undefined} */
  let controller;

  /** @param {string} block one event: lines up to a blank line */
  const dispatch = (block) => {
    let event = 'message';
    /** @type {string[]} */
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value);
    }
    if (data.length === 0) return;
    const handler = handlers[event];
    if (!handler) return;
    try {
      handler(JSON.parse(data.join('\n')));
    } catch (err) {
      console.error(`event ${event}:`, err);
    }
  };

  const run = async () => {
    let first = true;
    while (!stopped) {
      onStatus(first ? 'connecting' : 'reconnecting');
      first = false;
      controller = new AbortController();
      try {
        const res = await fetch(path, {
          headers: { accept: 'text/event-stream', ...authHeaders() },
          cache: 'no-store',
          signal: controller.signal,
        });
        if (res.status === 401) {
          for (const f of unauthorizedListeners) f();
          return;
        }
        if (!res.ok || !res.body) throw new Error(`${res.status}`);
        onStatus('live');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
            dispatch(block);
          }
        }
      } catch {
        // dropped or refused: try again below
      }
      if (stopped) return;
      onStatus('reconnecting');
      await new Promise((r) => setTimeout(r, retryMs));
    }
  };
  void run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
