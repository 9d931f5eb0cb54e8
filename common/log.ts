/** Logging: pino everywhere (the collector hands the same instance to Fastify). */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** The log levels every config file and --log-level option accept. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogOptions {
  level?: LevelWithSilent;
  /** Name of the component, logged as `name` on every line. */
  name?: string;
  /** Where to write; defaults to stderr so stdout stays free for tables and JSON output. */
  destination?: NodeJS.WritableStream | number;
}

export function createLogger(options: LogOptions = {}): Logger {
  const dest = options.destination ?? 2;
  const stream = typeof dest === 'number' ? pino.destination({ fd: dest, sync: true }) : dest;
  return pino(
    {
      level: options.level ?? 'info',
      ...(options.name ? { name: options.name } : {}),
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream,
  );
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
