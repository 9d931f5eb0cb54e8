/**
 * One error handler and one not-found handler for the whole collector API: every 4xx/5xx answer has the
 * ErrorBody shape (common/wire.ts) with a stable code from common/errors.ts.
 */
import { STATUS_CODES } from 'node:http';
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

/** Installs the error and not-found handlers on the root instance. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const { code, message } = classifyError(err, request);
    const body = errorBody(code, message);
    if (code === 'JISHI_ERR_INTERNAL') request.log.error({ err }, 'unhandled error');
    else if (code === 'JISHI_ERR_STORE_UNAVAILABLE') request.log.error({ err }, 'store unavailable');
    else request.log.info({ code, message: body.message }, 'request rejected');
    if (code === 'JISHI_ERR_STORE_UNAVAILABLE') void reply.header('retry-after', String(STORE_RETRY_AFTER_S));
    return reply.status(body.statusCode).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody('JISHI_ERR_NOT_FOUND', `Route ${request.method} ${request.url} not found`)),
  );
}
