import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Query parameters whose values never reach a log line: login still accepts credentials there, and the
 * OAuth callback (/external_oauth/redirect) carries the authorization code and the state.
 */
const SECRET_PARAMS = /^(client_secret|client_id|access_token|refresh_token|token|code|state)$/i;

export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const key of [...params.keys()]) if (SECRET_PARAMS.test(key)) params.set(key, '[redacted]');
  return `${url.slice(0, q)}?${params.toString()}`;
}

/**
 * One structured line per request, written when the response is sent. It names method, path, status,
 * time and the acting user; never headers or bodies, so no Authorization header, login body or secret.
 */
export function logRequest(request: FastifyRequest, reply: FastifyReply) {
  request.log.info(
    {
      method: request.method,
      url: redactUrl(request.url),
      statusCode: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      userId: request.caller?.userId,
      remoteAddress: request.ip,
    },
    'request',
  );
}

export default fp(
  async (app) => {
    app.addHook('onResponse', async (request, reply) => logRequest(request, reply));
    app.addHook('onSend', async (request, reply) => {
      reply.header('x-request-id', request.id);
    });
  },
  { name: 'request-log' },
);
