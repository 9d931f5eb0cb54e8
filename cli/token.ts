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
