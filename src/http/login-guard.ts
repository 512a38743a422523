import { createHash } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from './errors.ts';
import { clientAddressKey } from './client-address.ts';
import type { Counters } from './counters.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route checks credentials: failed attempts are counted and, past the limit, answered 429. */
    loginGuard?: boolean;
  }
  interface FastifyRequest {
    /** Counter keys of a login attempt the guard let through, settled when the response is sent. */
    loginAttempt: string[] | null;
  }
}

/**
 * Brute-force guard for login, always on. An attempt is counted *before* the secret is checked (so a
 * burst of parallel guesses cannot all slip past a check that only sees finished failures) and taken back
 * if it succeeds, so in effect failures are counted. Over `max` in a window, every attempt (a correct
 * secret too, so a guess cannot be confirmed) gets 429 until the window ends. Only the attempt's own
 * counts are taken back on success: another address's or client_id's count is untouched.
 */
export function loginGuard(counters: Counters, { max, windowS }: { max: number; windowS: number }) {
  const windowMs = windowS * 1000;
  const takeBack = async (keys: string[]) => {
    await Promise.all(keys.map((key) => counters.undo(key)));
  };
  return {
    /** Counts an attempt on every key; returns the seconds to wait when any key is over the limit. */
    async begin(keys: string[]): Promise<{ retryAfterS: number } | null> {
      const hits = await Promise.all(keys.map((key) => counters.hit(key, windowMs)));
      const over = hits.filter((hit) => hit.count > max);
      if (over.length === 0) return null;
      // A refused attempt checked no secret: it is not a failure, and must not push a victim's client_id further.
      await takeBack(keys);
      return { retryAfterS: Math.max(1, Math.ceil(Math.max(...over.map((hit) => hit.resetMs)) / 1000)) };
    },
    takeBack,
  };
}

/** Counter keys of a login attempt: the client address, and the client_id (hashed: any string up to 1 KiB). */
function attemptKeys(request: FastifyRequest): string[] {
  const keys = [`login:ip:${clientAddressKey(request.ip)}`];
  const clientId = presentedClientId(request);
  if (clientId !== null) keys.push(`login:client:${createHash('sha256').update(clientId).digest('base64url')}`);
  return keys;
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
