/** A debug-level pino logger whose lines are collected, parsed, for assertions on what was logged. */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export function capture(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}
