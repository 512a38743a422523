import { createHash } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import { clientAddressKey } from './client-address.ts';
import type { Counters } from '../counters/index.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route checks credentials: failed attempts are counted and, past the limit, answered 429. */
    loginGuard?: boolean;
  }
  interface FastifyRequest {
    /** Counter keys of a login attempt the guard let through, settled when the response is sent. */
    loginAttempt: AttemptKeys | null;
  }
}

/** The counter keys of one login attempt: its address, and with a client_id, that pair and the client_id. */
interface AttemptKeys {
  address: string;
  pair?: string;
  client?: string;
}

/**
 * Brute-force guard for login, always on. An attempt is counted *before* the secret is checked (so a
 * burst of parallel guesses cannot all slip past a check that only sees finished failures) and taken back
 * if it succeeds, so in effect failures are counted. Refusals are decided from counts alone, before and
 * without the secret check, so neither a 429 nor its timing says whether a secret was right.
 *
 * - Per address: over `max` failures in a window, every attempt from it gets 429 (a correct secret too, so
 *   a guess cannot be confirmed) until the window ends. This bounds guessing one client_id from one address.
 * - Per client_id, from anywhere: never a refusal by itself, which would let anyone who knows a client_id
 *   lock its owner out. Past `max` failures (guessing spread over many addresses), it tightens the count
 *   per address + client_id: one failure for that client_id per address and window instead of `max`.
 *   An address that has not failed for it still logs in with the correct secret.
 *
 * Only the attempt's own counts are taken back on success: another address's or client_id's are untouched.
 */
export function loginGuard(counters: Counters, { max, windowS }: { max: number; windowS: number }) {
  const windowMs = windowS * 1000;
  const keysOf = (keys: AttemptKeys) => [keys.address, keys.pair, keys.client].filter((key): key is string => key !== undefined);
  const takeBack = async (keys: AttemptKeys) => {
    await Promise.all(keysOf(keys).map((key) => counters.undo(key)));
  };
  return {
    /** Counts an attempt on every key; returns the seconds to wait when the attempt is refused. */
    async begin(keys: AttemptKeys): Promise<{ retryAfterS: number } | null> {
      const hit = (key: string | undefined) => (key === undefined ? Promise.resolve(null) : counters.hit(key, windowMs));
      const [address, pair, client] = await Promise.all([counters.hit(keys.address, windowMs), hit(keys.pair), hit(keys.client)]);
      // Counted always, so that an address's failures before the client_id came under attack still count.
      const underAttack = client !== null && client.count > max;
      const over = [address.count > max ? address : null, underAttack && pair !== null && pair.count > 1 ? pair : null].filter((h) => h !== null);
      if (over.length === 0) return null;
      // A refused attempt checked no secret: it is not a failure, and must not push a victim's client_id further.
      await takeBack(keys);
      return { retryAfterS: Math.max(1, Math.ceil(Math.max(...over.map((h) => h.resetMs)) / 1000)) };
    },
    takeBack,
  };
}

/** Counter keys of a login attempt; the client_id is hashed (any string up to 1 KiB). */
function attemptKeys(request: FastifyRequest): AttemptKeys {
  const address = clientAddressKey(request.ip);
  const clientId = presentedClientId(request);
  if (clientId === null) return { address: `login:ip:${address}` };
  const client = createHash('sha256').update(clientId).digest('base64url');
  return { address: `login:ip:${address}`, pair: `login:ip-client:${address}:${client}`, client: `login:client:${client}` };
}

/** Where login reads client_id from: the form body first, then (deprecated) the query string. */
function presentedClientId(request: FastifyRequest): string | null {
  const form = typeof request.body === 'object' && request.body !== null ? (request.body as Record<string, unknown>) : {};
  const value = form.client_id ?? (request.query as Record<string, unknown> | undefined)?.client_id;
  return typeof value === 'string' && value.length > 0 ? value : null;
}

export default fp(
  async (app) => {
    const guard = loginGuard(app.counters, app.config.loginGuard);
    app.decorateRequest('loginAttempt', null);

    // preHandler: after the body is parsed (client_id is in it), before the handler checks the secret.
    const countAttempt = async (request: FastifyRequest) => {
      const keys = attemptKeys(request);
      const refused = await guard.begin(keys);
      if (refused) app.metrics.loginGuardTrip();
      if (refused) throw new ApiError('rate_limited', undefined, [], { 'retry-after': String(refused.retryAfterS) });
      request.loginAttempt = keys;
    };

    // A 4xx is a rejected guess and stays counted; a success, or a 5xx that judged nothing, is taken back.
    const settleAttempt = async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.loginAttempt && (reply.statusCode < 400 || reply.statusCode >= 500)) {
        await guard.takeBack(request.loginAttempt);
      }
    };

    // Attached to the routes that declare `loginGuard` only, so no other request pays for these hooks.
    app.addHook('onRoute', (route) => {
      if (!route.config?.loginGuard) return;
      route.preHandler = [countAttempt, ...asArray(route.preHandler)];
      route.onResponse = [...asArray(route.onResponse), settleAttempt];
    });
  },
  { name: 'login-guard', dependencies: ['counters'] },
);

function asArray<T>(hooks: T | T[] | undefined): T[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];
}
