import fp from 'fastify-plugin';
import { ApiError } from '../errors.ts';
import { sendError } from './error-handler.ts';

/** Seconds a client is asked to wait: by then a load balancer has moved it to another instance. */
const RETRY_AFTER_S = '5';

/**
 * While the server drains (close() was called), a request that still arrives on an open keep-alive
 * connection gets Looker's 503 body, with `Retry-After`, its `x-request-id` and its log line, instead of
 * fastify's own `{"error":…}` body (`return503OnClosing` is off for that reason). The connection is
 * closed after the answer, so the client reconnects elsewhere.
 */
export default fp(
  async (app) => {
    let draining = false;
    app.addHook('preClose', async () => {
      draining = true;
    });
    // The first onRequest hook, registered before auth and the rate limit: a draining server checks no token.
    // A callback, not an async function: it runs on every request and almost always only says "go on".
    app.addHook('onRequest', (request, reply, done) => {
      if (!draining) return done();
      reply.header('connection', 'close');
      sendError(request, reply, new ApiError('unavailable', undefined, [], { 'retry-after': RETRY_AFTER_S }));
    });
  },
  { name: 'draining' },
);
