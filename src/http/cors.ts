import fp from 'fastify-plugin';
import cors from '@fastify/cors';

/**
 * CORS is off unless EOA_CORS_ORIGINS lists the browser origins allowed to call the API; without it no
 * Access-Control-* header is sent and a preflight gets 404. Tokens travel in the Authorization header, never
 * in cookies, so credentials stay off. Registered before the auth hook: a preflight carries no token and is
 * answered by the CORS hook itself.
 */
export default fp(
  async (app, { origins }: { origins: string[] }) => {
    if (origins.length === 0) return;
    await app.register(cors, {
      origin: origins,
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
      exposedHeaders: ['x-request-id', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after'],
      credentials: false,
      maxAge: 600,
      // A bare OPTIONS (no Origin) would otherwise get a text/plain 400 that is not Looker's error body.
      strictPreflight: false,
    });
  },
  { name: 'cors' },
);
