/**
 * Who may do what, and how hard a client may knock:
 * - agents write their own instruments (an instrument's owner is its `instruments[].agent` in the config, else
 *   the agent that first sent it);
 * - admins change the registry and bookings; viewers (and admins and agents) read when `read_access: token`;
 * - failed authentications are counted per client address; beyond `limits.auth_failures_per_minute` the address
 *   gets 429 + Retry-After until the minute has passed.
 */
import type { FastifyRequest } from 'fastify';
import type { Clock } from '../common/clock.ts';
import { JishiError } from '../common/errors.ts';
import { bearerToken, sha256Hex } from './auth.ts';

export type Role = 'admin' | 'viewer' | 'agent';

export interface AccessOptions {
  admins: ReadonlyArray<{ id: string; tokenSha256: string }>;
  viewers: ReadonlyArray<{ id: string; tokenSha256: string }>;
  /** The agent of a token hash (the store keeps the agents' hashes). */
  agentForTokenHash: (hash: string) => string | undefined;
  readAccess: 'open' | 'token';
  authFailuresPerMinute: number;
  clock: Clock;
}

const WINDOW_MS = 60_000;

/** Failed authentications per address in a sliding minute. */
export class AuthFailureLimiter {
  readonly #limit: number;
  readonly #clock: Clock;
  readonly #failures = new Map<string, number[]>();

  constructor(limit: number, clock: Clock) {
    this.#limit = limit;
    this.#clock = clock;
  }

  /** Seconds until `address` may try again, or undefined when it may now. */
  blockedFor(address: string): number | undefined {
    const times = this.#recent(address);
    if (times.length < this.#limit) return undefined;
    return Math.max(1, Math.ceil((times[0]! + WINDOW_MS - this.#clock.now()) / 1000));
  }

  fail(address: string): void {
    const times = this.#recent(address);
    times.push(this.#clock.now());
    this.#failures.set(address, times);
    // Forget quiet addresses now and then, so the map stays small under a scan from many addresses.
    if (this.#failures.size > 10_000) for (const key of this.#failures.keys()) if (this.#recent(key).length === 0) this.#failures.delete(key);
  }

  #recent(address: string): number[] {
    const since = this.#clock.now() - WINDOW_MS;
    const times = (this.#failures.get(address) ?? []).filter((t) => t > since);
    if (times.length === 0) this.#failures.delete(address);
    else this.#failures.set(address, times);
    return times;
  }
}

export interface Principal {
  role: Role;
  id: string;
}

export class Access {
  readonly limiter: AuthFailureLimiter;
  readonly #o: AccessOptions;

  constructor(o: AccessOptions) {
    this.#o = o;
    this.limiter = new AuthFailureLimiter(o.authFailuresPerMinute, o.clock);
  }

  get readAccess(): 'open' | 'token' {
    return this.#o.readAccess;
  }

  /** Who the request's bearer token belongs to, undefined without a token; a bad token is a counted failure (401). */
  identify(request: FastifyRequest): Principal | undefined {
    const blocked = this.limiter.blockedFor(request.ip);
    if (blocked !== undefined) {
      throw Object.assign(new JishiError('JISHI_ERR_RATE_LIMITED', `too many failed authentications from ${request.ip}; retry in ${blocked} s`), {
        retryAfterS: blocked,
      });
    }
    const token = bearerToken(request.headers.authorization);
    if (token === undefined) return undefined;
    const hash = sha256Hex(token);
    const admin = this.#o.admins.find((a) => a.tokenSha256 === hash);
    if (admin) return { role: 'admin', id: admin.id };
    const viewer = this.#o.viewers.find((v) => v.tokenSha256 === hash);
    if (viewer) return { role: 'viewer', id: viewer.id };
    const agent = this.#o.agentForTokenHash(hash);
    if (agent !== undefined) return { role: 'agent', id: agent };
    this.limiter.fail(request.ip);
    throw new JishiError('JISHI_ERR_UNAUTHORIZED', 'Unknown bearer token');
  }

  /** The principal, who must have one of `roles`: 401 without a token, 403 with a token of another role. */
  require(request: FastifyRequest, roles: readonly Role[], what: string): Principal {
    const who = this.identify(request);
    if (who === undefined) throw new JishiError('JISHI_ERR_UNAUTHORIZED', `Missing bearer token: ${what} needs a token of ${roles.join(' or ')}`);
    if (!roles.includes(who.role)) throw new JishiError('JISHI_ERR_FORBIDDEN', `${what} needs a token of ${roles.join(' or ')}; this one is ${who.role} ${who.id}'s`);
    return who;
  }
}
