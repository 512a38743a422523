import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { createServices, type Services } from '../services/index.ts';
import type { ScryptCost } from '../crypto/password.ts';

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

const SESSION_PURGE_INTERVAL_MS = 10 * 60 * 1000;

/** Layer 2: the services, and the timers that keep their tables from growing without end. */
export default fp(
  async (app: FastifyInstance, { scryptCost }: { scryptCost?: ScryptCost }) => {
    app.decorate(
      'services',
      createServices({
        config: app.config,
        store: app.store,
        repos: app.repos,
        secretBox: app.secretBox,
        metrics: app.metrics,
        log: app.log,
        onBackgroundError: (error) => app.log.warn({ err: error }, 'writing a failed-login audit event failed'),
        scryptCost,
      }),
    );
    // Serving starts with the token cache on where it can: a listener not up within this passes through.
    await app.services.authChanges?.whenListening(5_000);
    // Expired sessions answer 401 already; this only keeps the table from growing without end.
    const purge = setInterval(() => {
      app.services.sessions.purgeExpired().catch((error) => app.log.warn({ err: error }, 'purging expired sessions failed'));
      app.services.audit.purgeExpired().catch((error) => app.log.warn({ err: error }, 'purging expired audit events failed'));
      // Pending OAuth authorizations live ten minutes; the callback refuses expired ones, this reclaims them.
      app.services.oauthConnect.purgeExpired().catch((error) => app.log.warn({ err: error }, 'purging expired OAuth authorizations failed'));
    }, SESSION_PURGE_INTERVAL_MS).unref();
    // Failed logins past the first few are counted; their summary event is written when the window ends.
    const flushFailedLogins = setInterval(() => {
      app.services.audit.flushFailedLogins().catch((error) => app.log.warn({ err: error }, 'writing failed-login summaries failed'));
    }, app.config.loginGuard.windowS * 1000).unref();
    app.addHook('onClose', async () => {
      await app.services.authChanges?.close();
      clearInterval(purge);
      clearInterval(flushFailedLogins);
      await app.services.audit.flushFailedLogins(true).catch((error) => app.log.warn({ err: error }, 'writing failed-login summaries failed'));
    });
  },
  { name: 'services', dependencies: ['infrastructure'] },
);
