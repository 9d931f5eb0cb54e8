/**
 * The catalog of stable error codes. Every error the collector answers with, and every error the
 * agent logs about a device, carries one of these codes. Codes never change meaning; new ones are
 * appended. docs/errors.md lists them for users.
 */
export const ERRORS = {
  JISHI_ERR_VALIDATION: { status: 400, message: 'The request does not match the schema' },
  JISHI_ERR_MALFORMED_JSON: { status: 400, message: 'The request body is not valid JSON' },
  JISHI_ERR_UNAUTHORIZED: { status: 401, message: 'Missing or invalid bearer token' },
  JISHI_ERR_AGENT_MISMATCH: { status: 403, message: 'The batch names an agent other than the token owner' },
  JISHI_ERR_NOT_FOUND: { status: 404, message: 'No such route or resource' },
  JISHI_ERR_BODY_TOO_LARGE: { status: 413, message: 'The request body exceeds the size limit' },
  JISHI_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The content type is not supported' },
  JISHI_ERR_STORE_UNAVAILABLE: { status: 503, message: 'The store could not make the data durable; retry later' },
  JISHI_ERR_INTERNAL: { status: 500, message: 'Internal error' },
  JISHI_ERR_FORBIDDEN: { status: 403, message: 'This token may not do that' },
  JISHI_ERR_RATE_LIMITED: { status: 429, message: 'Too many failed authentications from this address; retry later' },
  JISHI_ERR_OVERLOADED: { status: 503, message: 'The collector is busy; retry later' },
  JISHI_ERR_SAMPLES_REJECTED: { status: 422, message: 'No sample of the batch could be accepted' },
  JISHI_ERR_MALFORMED_HTTP: { status: 400, message: 'The request is not well-formed HTTP' },
  JISHI_ERR_HEADERS_TOO_LARGE: { status: 431, message: 'The request headers exceed the size limit' },
  JISHI_ERR_REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time' },
  // Per-sample codes: in IngestAck.rejected (the rest of the batch is stored).
  JISHI_ERR_INSTRUMENT_NOT_OWNED: { status: 403, message: 'The instrument belongs to another agent' },
  JISHI_ERR_UNKNOWN_INSTRUMENT: { status: 422, message: 'The instrument is not in the collector config' },
  JISHI_ERR_SAMPLE_TIME: { status: 422, message: 'The sample time is too far in the future or the past' },
  JISHI_ERR_NON_FINITE: { status: 422, message: 'A reading is not a finite number' },
  // Device-side codes (agent logs and sample.error); never HTTP answers.
  JISHI_ERR_DEVICE_TIMEOUT: { status: 504, message: 'The device did not answer in time' },
  JISHI_ERR_DEVICE_UNREACHABLE: { status: 502, message: 'The device or its gateway cannot be reached' },
  JISHI_ERR_DEVICE_EXCEPTION: { status: 502, message: 'The device answered with an exception' },
  JISHI_ERR_DEVICE_DECODE: { status: 502, message: 'The device answer could not be decoded' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class JishiError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; details?: unknown }) {
    super(message ?? ERRORS[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'JishiError';
    this.code = code;
    this.statusCode = ERRORS[code].status;
    this.details = options?.details;
  }
}

/** One problem found in a configuration file. */
export interface ConfigIssue {
  /** JSON-pointer-like path inside the file, e.g. `/instruments/2/transport`. */
  path: string;
  /** The instrument (device) the problem belongs to, when there is one. */
  instrument?: string;
  /** The offending value, quoted in the message. */
  value?: unknown;
  message: string;
}

/** Thrown when a config file is invalid; carries every problem found, not just the first. */
export class ConfigError extends Error {
  readonly file: string;
  readonly issues: ConfigIssue[];

  constructor(file: string, issues: ConfigIssue[]) {
    super(formatConfigIssues(file, issues));
    this.name = 'ConfigError';
    this.file = file;
    this.issues = issues;
  }
}

function quote(value: unknown): string {
  if (value === undefined) return '';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  if (text.length > 80) text = `${text.slice(0, 77)}...`;
  return ` (got ${text})`;
}

export function formatConfigIssues(file: string, issues: ConfigIssue[]): string {
  const lines = issues.map((i) => {
    const where = i.instrument ? `instrument "${i.instrument}" ${i.path}` : i.path || '(root)';
    return `  - ${where}: ${i.message}${quote(i.value)}`;
  });
  const n = issues.length;
  return `${file}: ${n} configuration error${n === 1 ? '' : 's'}:\n${lines.join('\n')}`;
}
