import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { pino } from 'pino';

/**
 * A URL as it may be logged: the path alone. A query string can carry a secret under any name
 * (`?api_key=`, `?password=`, login's deprecated `?client_secret=`), so no list of names to redact is
 * ever complete; the route's declared parameters are in the OpenAPI document, not needed in the log.
 */
export function loggablePath(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Any path-with-query inside free text (an error message, a framework warning): the query is dropped. */
const URL_QUERY = /(\/[^\s?#"'`]*)\?[^\s"'`]*/g;

export function withoutQueries(text: string): string {
  return text.replace(URL_QUERY, '$1');
}

/**
 * Logger options that keep query strings out of every line, not only the request line: fastify's own
 * lines (`req` objects, "Reply was already sent" warnings naming the URL) and error messages that quote
 * a URL go through these as well.
 */
export const LOG_URL_HYGIENE = {
  serializers: {
    req: (req: { method?: string; url?: string }) => ({ method: req.method, url: loggablePath(String(req.url ?? '')) }),
    err: (err: Error) => {
      const serialized = pino.stdSerializers.err(err);
      if (typeof serialized.message === 'string') serialized.message = withoutQueries(serialized.message);
      if (typeof serialized.stack === 'string') serialized.stack = withoutQueries(serialized.stack);
      return serialized;
    },
  },
  hooks: {
    logMethod(this: unknown, args: unknown[], method: (...args: unknown[]) => void) {
      method.apply(this, args.map((arg) => (typeof arg === 'string' ? withoutQueries(arg) : arg)));
    },
  },
};

/**
 * One structured line per request, written when the response is sent. It names method, path, status,
 * time and the acting user; never headers, bodies or query strings, so no Authorization header, login
 * body or secret.
 */
export function logRequest(request: FastifyRequest, reply: FastifyReply) {
  request.log.info(
    {
      method: request.method,
      url: loggablePath(request.url),
      statusCode: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      userId: request.caller?.userId,
      remoteAddress: request.ip,
    },
    'request',
  );
}

/** The request's log line; its `x-request-id` header is set with the other headers of every answer (response-headers.ts). */
export default fp(
  async (app) => {
    app.addHook('onResponse', (request, reply, done) => {
      logRequest(request, reply);
      done();
    });
  },
  { name: 'request-log' },
);
