/** Agent tokens: agents send `Authorization: Bearer <token>`; the collector keeps only sha256(token). */
import { createHash } from 'node:crypto';

/** Lowercase hex sha256 of a token, the form stored in the config (`agents[].token_sha256`) and the store. */
export function sha256Hex(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
