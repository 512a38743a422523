import { Readable } from 'node:stream';
import fp from 'fastify-plugin';
import type { FastifyReply } from 'fastify';
import type { WalSync } from '../store/wal-sync.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The response carries a secret or a token (login, a new API credential, a broker access token): no
     * cache, shared or private, may keep it. One word on the route: `config: { carriesSecret: true }`.
     */
    carriesSecret?: boolean;
  }
}

/** Sent with every response, whoever answers it (routes, hooks, the error handler, draining, a bad request line). */
export const ALWAYS = { 'x-content-type-options': 'nosniff' } as const;

/** RFC 6749 §5.1: a token response says `Cache-Control: no-store` and, for HTTP/1.0 caches, `Pragma: no-cache`. */
const SECRET_BEARING = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

export function setSecurityHeaders(reply: FastifyReply): void {
  reply.header('x-content-type-options', ALWAYS['x-content-type-options']);
  if (reply.request.routeOptions.config?.carriesSecret) reply.headers(SECRET_BEARING);
}

/**
 * The one onSend hook of every response (hooks cost per request, so the things every answer needs share
 * one, and a plain callback rather than an async function):
 *   - the security headers above, and the request's `x-request-id`;
 *   - on SQLite, the durability fence: a group commit is visible before its fsync is done (store/wal-sync.ts),
 *     so a response waits until every commit made before it is on disk; otherwise it could show a row a
 *     power cut would take back. Nothing waits when no flush is pending, the usual case for reads. A
 *     streamed list goes on reading after its headers are sent, so each of its chunks waits in turn.
 */
export default fp(
  async (app) => {
    const walSync = app.store.walSync;
    app.addHook('onSend', (request, reply, payload, done) => {
      reply.header('x-request-id', request.id);
      setSecurityHeaders(reply);
      if (walSync && payload instanceof Readable) return done(null, Readable.from(fenced(payload, walSync)));
      const flushed = walSync?.pending();
      if (flushed) void flushed.then(() => done(null, payload));
      else done(null, payload);
    });
  },
  { name: 'response-headers', dependencies: ['infrastructure'] },
);

/**
 * A stream's chunks, each let through once every commit made before it was read is on disk: the rows in a
 * chunk were committed before it was read, so no chunk can show a row a power cut would take back.
 */
export async function* fenced(chunks: AsyncIterable<unknown>, walSync: Pick<WalSync, 'pending'>): AsyncGenerator<unknown> {
  for await (const chunk of chunks) {
    const flushed = walSync.pending();
    if (flushed) await flushed;
    yield chunk;
  }
}
