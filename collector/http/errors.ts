/**
 * One error handler and one not-found handler for the whole collector API: every 4xx/5xx answer has the
 * ErrorBody shape (common/wire.ts) with a stable code from common/errors.ts.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, JishiError, type ErrorCode } from '../../common/errors.ts';
import type { ErrorBody } from '../../common/wire.ts';

/** Seconds a client is asked to wait (Retry-After) when the store is unavailable. */
export const STORE_RETRY_AFTER_S = 5;

/** The ErrorBody for a code; the message defaults to the catalog's. */
export function errorBody(code: ErrorCode, message?: string): ErrorBody {
  const status = ERRORS[code].status;
  return { statusCode: status, code, error: STATUS_CODES[status] ?? 'Error', message: message ?? ERRORS[code].message };
}

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** `body/samples/0/ts must be integer`: the failing path first, then what is wrong. */
function validationMessage(err: FastifyError): string {
  const context = err.validationContext ?? 'body';
  const first = (err.validation as AjvError[] | undefined)?.[0];
  if (first === undefined) return err.message;
  let text = `${context}${first.instancePath ?? ''} ${first.message ?? 'is invalid'}`;
  if (first.keyword === 'additionalProperties' && first.params?.additionalProperty !== undefined) {
    text += `: "${String(first.params.additionalProperty)}"`;
  } else if (first.keyword === 'const') {
    text += ` ${JSON.stringify(first.params?.allowedValue)}`;
  } else if (first.keyword === 'enum') {
    text += `: ${JSON.stringify(first.params?.allowedValues)}`;
  }
  return text;
}

/** Maps any error thrown while handling a request to a code and message. */
export function classifyError(err: FastifyError | Error, request: FastifyRequest): { code: ErrorCode; message?: string } {
  if (err instanceof JishiError) return { code: err.code, message: err.message };
  const e = err as FastifyError;
  if (e.validation) return { code: 'JISHI_ERR_VALIDATION', message: validationMessage(e) };
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { code: 'JISHI_ERR_MALFORMED_JSON' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'JISHI_ERR_BODY_TOO_LARGE', message: `The request body exceeds the limit of ${request.routeOptions.bodyLimit} bytes` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        code: 'JISHI_ERR_UNSUPPORTED_MEDIA_TYPE',
        message: `Content-Type ${JSON.stringify(request.headers['content-type'] ?? '')} is not supported; send application/json`,
      };
  }
  // Other client errors Fastify raises itself (bad Content-Length, ...), by status.
  const status = e.statusCode ?? 500;
  if (status === 404) return { code: 'JISHI_ERR_NOT_FOUND', message: e.message };
  if (status === 413) return { code: 'JISHI_ERR_BODY_TOO_LARGE', message: e.message };
  if (status === 415) return { code: 'JISHI_ERR_UNSUPPORTED_MEDIA_TYPE', message: e.message };
  if (status >= 400 && status < 500) return { code: 'JISHI_ERR_VALIDATION', message: e.message };
  return { code: 'JISHI_ERR_INTERNAL' };
}

/** The code of the error answer a reply carries (set where it is answered; read by the metrics hook). */
const kErrorCode = Symbol('jishi.errorCode');

type CodedReply = FastifyReply & { [kErrorCode]?: string };

/** Records the JISHI_ERR_* code a reply answers with. */
export function markErrorCode(reply: FastifyReply, code: string): void {
  (reply as CodedReply)[kErrorCode] = code;
}

/** The JISHI_ERR_* code a 4xx/5xx reply answered with, when it had one. */
export function answeredErrorCode(reply: FastifyReply): string | undefined {
  return (reply as CodedReply)[kErrorCode];
}

const CODE_IN_BODY = /"code"\s*:\s*"(JISHI_ERR_[A-Z_]+)"/;

/** Answers an error thrown while handling a request (also used for Fastify's router errors: bad URL encoding). */
export function sendError(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { code, message } = classifyError(err, request);
  const body = errorBody(code, message);
  if (code === 'JISHI_ERR_INTERNAL') request.log.error({ err }, 'unhandled error');
  else if (code === 'JISHI_ERR_STORE_UNAVAILABLE') request.log.error({ err }, 'store unavailable');
  else request.log.info({ code, message: body.message }, 'request rejected');
  if (code === 'JISHI_ERR_STORE_UNAVAILABLE') void reply.header('retry-after', String(STORE_RETRY_AFTER_S));
  // Rate limits and load shedding say when to come back (the lead's access control sets retryAfterS).
  const retryAfterS = (err as { retryAfterS?: unknown }).retryAfterS;
  if (typeof retryAfterS === 'number') void reply.header('retry-after', String(retryAfterS));
  markErrorCode(reply, code);
  return reply.status(body.statusCode).send(body);
}

/**
 * Fastify's `frameworkErrors` option: errors the router raises before any route runs (a URL with a bad percent
 * escape, a path parameter over maxParamLength). Without it Fastify answers them with its own FST_ERR_* bodies.
 */
export function frameworkErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void sendError(err, request, reply);
  // These replies skip the onResponse hooks: count them here.
  (request.server as { metrics?: { frameworkError(method: string, status: number, code: string): void } }).metrics?.frameworkError(
    request.method,
    reply.statusCode,
    answeredErrorCode(reply) ?? 'JISHI_ERR_VALIDATION',
  );
}

/** How a connection-level error (Node's 'clientError': unparsable HTTP) is answered. */
export function clientErrorCode(err: Error & { code?: string }): ErrorCode {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'JISHI_ERR_REQUEST_TIMEOUT';
  if (err.code === 'HPE_HEADER_OVERFLOW') return 'JISHI_ERR_HEADERS_TOO_LARGE';
  return 'JISHI_ERR_MALFORMED_HTTP';
}

/**
 * Fastify's `clientErrorHandler` option (called with the Fastify instance as `this`): HTTP that Node cannot parse
 * (bad request line, bad header, bad chunk, headers over the limit) is answered with an ErrorBody and the
 * connection closed, as Node does by default but with our codes; counted in jishi_http_errors_total.
 */
export function clientErrorHandler(this: FastifyInstance, err: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code = clientErrorCode(err);
  const body = JSON.stringify(errorBody(code, code === 'JISHI_ERR_MALFORMED_HTTP' ? `Malformed HTTP request (${err.code ?? 'parse error'})` : undefined));
  this.log.debug({ err, code }, 'malformed HTTP request');
  (this as { metrics?: { clientError(code: string): void } }).metrics?.clientError(code);
  // As Node: answer only when no response is in flight on this socket, or none of it was written yet.
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.writable && (inFlight === undefined || inFlight === null || !inFlight.headersSent)) {
    const status = ERRORS[code].status;
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/**
 * Installs the error and not-found handlers on the root instance, and marks every 4xx/5xx answer with its code
 * (also answers a route sent itself with an ErrorBody) so the metrics count errors by code.
 * Fastify's `frameworkErrors` and `clientErrorHandler` options are set to the handlers above by buildApp.
 */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => sendError(err, request, reply));
  app.setNotFoundHandler((request, reply) => {
    markErrorCode(reply, 'JISHI_ERR_NOT_FOUND');
    return reply.status(404).send(errorBody('JISHI_ERR_NOT_FOUND', `Route ${request.method} ${request.url} not found`));
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (reply.statusCode >= 400 && answeredErrorCode(reply) === undefined && typeof payload === 'string') {
      const code = CODE_IN_BODY.exec(payload.slice(0, 1024))?.[1];
      if (code !== undefined) markErrorCode(reply, code);
    }
    return payload;
  });
}
