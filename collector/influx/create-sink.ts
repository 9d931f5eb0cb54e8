/** The InfluxSink a collector config asks for: 1.x (database) or 2.x/3.x (token, org, bucket). */
import type { InfluxTarget } from '../config.ts';
import { createInfluxV1Sink, type InfluxSink } from './sink.ts';
import { createInfluxV2Sink } from './v2-sink.ts';

export function createInfluxSink(t: InfluxTarget, options: { requestTimeoutMs?: number } = {}): InfluxSink {
  if (t.version === 1) {
    return createInfluxV1Sink({
      url: t.url,
      database: t.database,
      ...(t.username !== undefined ? { username: t.username } : {}),
      ...(t.password !== undefined ? { password: t.password } : {}),
      ...options,
    });
  }
  return createInfluxV2Sink({ version: t.version, url: t.url, token: t.token, bucket: t.bucket, ...(t.org !== undefined ? { org: t.org } : {}), ...options });
}
