import fp from 'fastify-plugin';
import { runInRequestContext } from '../services/request-context.ts';

/**
 * Runs every request inside its request context (services/request-context.ts). The first onRequest hook,
 * so everything after it (auth, handlers, services) runs inside; the actor is read from `request.caller`
 * when an event is recorded, which the auth hook has set by then.
 */
export default fp(
  async (app) => {
    app.addHook('onRequest', (request, _reply, done) => {
      runInRequestContext(
        {
          requestId: request.id,
          address: request.ip,
          get actor() {
            const caller = request.caller;
            return caller ? { userId: caller.userId, principalUserId: caller.principalUserId } : null;
          },
        },
        done,
      );
    });
  },
  { name: 'request-context' },
);
