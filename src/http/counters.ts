import fp from 'fastify-plugin';
import type { Config } from '../config.ts';
import { openCounters, type Counters } from '../counters/index.ts';

declare module 'fastify' {
  interface FastifyInstance {
    counters: Counters;
  }
}

/** Decorates the app with the rate limit's and login guard's counters (src/counters), closed with it. */
export default fp(
  async (app, { config }: { config: Config }) => {
    const counters = await openCounters({ redisUrl: config.redisUrl, redisKeyPrefix: config.redisKeyPrefix, log: app.log });
    app.decorate('counters', counters);
    app.addHook('onClose', () => counters.close());
  },
  { name: 'counters' },
);
