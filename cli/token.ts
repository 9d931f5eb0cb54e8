/** `jishi token <id> [--admin]`: makes a new agent (or admin) token and prints where each half goes. */
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../collector/auth.ts';

/** 32 random bytes, base64url: high entropy, so a plain SHA-256 is a sound way to store it. */
export function newToken(): string {
  return `jishi_${randomBytes(32).toString('base64url')}`;
}

export function tokenInstructions(agentId: string, token: string): string {
  return [
    `New token for agent "${agentId}". It is shown once; the collector keeps only its hash.`,
    '',
    'Agent config (jishi-agent.yaml), or set JISHI_AGENT_TOKEN and write token: ${JISHI_AGENT_TOKEN}:',
    '  collector:',
    `    token: ${token}`,
    '',
    'Collector config (jishi-collector.yaml):',
    '  agents:',
    `    - id: ${agentId}`,
    `      token_sha256: ${sha256Hex(token)}`,
    '',
  ].join('\n');
}

/** For an admin (registry and bookings changes through the API): the token for the client, the hash for the collector. */
export function adminTokenInstructions(adminId: string, token: string): string {
  return [
    `New admin token for "${adminId}". It is shown once; the collector keeps only its hash.`,
    '',
    'Send it as a bearer token with registry and booking changes, e.g.:',
    `  curl -X POST -H "Authorization: Bearer ${token}" -H "Content-Type: text/csv" --data-binary @bookings.csv http://127.0.0.1:8080/api/v1/bookings`,
    '',
    'Collector config (jishi-collector.yaml):',
    '  admins:',
    `    - id: ${adminId}`,
    `      token_sha256: ${sha256Hex(token)}`,
    '',
  ].join('\n');
}

/** The token lists of the collector config: who the token is for. */
export type TokenKind = 'agent' | 'admin' | 'viewer';
const LIST: Record<TokenKind, 'agents' | 'admins' | 'viewers'> = { agent: 'agents', admin: 'admins', viewer: 'viewers' };

/** For a viewer (read-only access with read_access: token). */
export function viewerTokenInstructions(viewerId: string, token: string): string {
  return [
    `New viewer token for "${viewerId}". It is shown once; the collector keeps only its hash.`,
    '',
    'Send it as a bearer token with reads, e.g.:',
    `  curl -H "Authorization: Bearer ${token}" http://127.0.0.1:8080/api/v1/instruments`,
    '',
    'Collector config (jishi-collector.yaml):',
    '  viewers:',
    `    - id: ${viewerId}`,
    `      token_sha256: ${sha256Hex(token)}`,
    '',
  ].join('\n');
}

/**
 * The token entries of a collector config file, in the file: adds, lists and removes entries of `agents`,
 * `admins` and `viewers`, keeping the rest of the file (comments included) as it is. The collector reads the file
 * at start: restart it (or send SIGHUP where supported) for a change to take effect.
 */
export async function editTokens(
  file: string,
  change: { add?: { kind: TokenKind; id: string; hash: string }; revoke?: string },
): Promise<{ entries: Array<{ kind: TokenKind; id: string; hash: string }>; removed: Array<{ kind: TokenKind; id: string }> }> {
  const { readFile, writeFile } = await import('node:fs/promises');
  const { isMap, isSeq, parseDocument } = await import('yaml');
  const text = await readFile(file, 'utf8');
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
  const removed: Array<{ kind: TokenKind; id: string }> = [];
  if (change.add) {
    const list = LIST[change.add.kind];
    const seq = doc.get(list);
    const existing = isSeq(seq) ? seq.items.some((i) => isMap(i) && i.get('id') === change.add!.id) : false;
    if (existing) throw new Error(`${file}: ${list} already has ${change.add.id}: revoke it first (jishi token ${change.add.id} --revoke --config ${file})`);
    const entry = doc.createNode({ id: change.add.id, token_sha256: change.add.hash });
    if (isSeq(seq)) seq.items.push(entry);
    else doc.set(list, doc.createNode([{ id: change.add.id, token_sha256: change.add.hash }]));
  }
  if (change.revoke !== undefined) {
    for (const kind of Object.keys(LIST) as TokenKind[]) {
      const seq = doc.get(LIST[kind]);
      if (!isSeq(seq)) continue;
      const before = seq.items.length;
      seq.items = seq.items.filter((i) => !(isMap(i) && i.get('id') === change.revoke));
      if (seq.items.length < before) removed.push({ kind, id: change.revoke });
    }
    if (removed.length === 0) throw new Error(`${file}: no agent, admin or viewer "${change.revoke}"`);
  }
  if (change.add || change.revoke !== undefined) await writeFile(file, doc.toString());
  const entries: Array<{ kind: TokenKind; id: string; hash: string }> = [];
  for (const kind of Object.keys(LIST) as TokenKind[]) {
    const seq = doc.get(LIST[kind]);
    if (!isSeq(seq)) continue;
    for (const i of seq.items) if (isMap(i)) entries.push({ kind, id: String(i.get('id')), hash: String(i.get('token_sha256')) });
  }
  return { entries, removed };
}
