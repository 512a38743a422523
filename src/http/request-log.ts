import fp from 'fastify-plugin';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { Bindings, ChildLoggerOptions, LogFn } from 'pino';
import { pino } from 'pino';
import { requestMetricsRecorder } from './request-metrics.ts';

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
      // Only a string holding a `?` can hold a query; the request line's "request" is passed as it is.
      for (let i = 0; i < args.length; i += 1) {
        const arg = args[i];
        if (typeof arg === 'string' && arg.includes('?')) args[i] = withoutQueries(arg);
      }
      method.apply(this, args);
    },
  },
};

/**
 * One structured line per request, written when the response is sent. It names method, path, status,
 * time and the acting user; never headers, bodies or query strings, so no Authorization header, login
 * body or secret.
 */
export function logRequest(log: FastifyBaseLogger, request: FastifyRequest, reply: FastifyReply) {
  // With the request id spelled out: the same line as `request.log` would write, without making the
  // per-request child logger (see lazyChildLogger) for it.
  log.info(
    {
      reqId: request.id,
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

/**
 * Fastify makes a child logger (bound to the request id) for every request, though most requests log
 * nothing but their request line, which does not use it. This one makes the child on first use.
 */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChild(logger, bindings, options) as unknown as FastifyBaseLogger;
}

/** Methods on the prototype: nothing is allocated per request but the one object. */
class LazyChild {
  #child: FastifyBaseLogger | null = null;
  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private real(): FastifyBaseLogger {
    return (this.#child ??= this.parent.child(this.bindings, this.options));
  }

  get level() {
    return this.real().level;
  }
  set level(level: string) {
    this.real().level = level;
  }
  fatal(...args: Parameters<LogFn>) {
    this.real().fatal(...args);
  }
  error(...args: Parameters<LogFn>) {
    this.real().error(...args);
  }
  warn(...args: Parameters<LogFn>) {
    this.real().warn(...args);
  }
  info(...args: Parameters<LogFn>) {
    this.real().info(...args);
  }
  debug(...args: Parameters<LogFn>) {
    this.real().debug(...args);
  }
  trace(...args: Parameters<LogFn>) {
    this.real().trace(...args);
  }
  silent(...args: Parameters<LogFn>) {
    this.real().silent(...args);
  }
  child(more: Bindings, moreOptions?: ChildLoggerOptions) {
    return this.real().child(more, moreOptions);
  }
}

/**
 * The request's log line and its metrics (request-metrics.ts), in one onResponse hook. Its `x-request-id`
 * header is set with the other headers of every answer (response-headers.ts).
 */
export default fp(
  async (app) => {
    const recordMetrics = requestMetricsRecorder(app);
    // The server's logger without its redaction paths: pino otherwise runs every field of every line
    // through the wildcard paths (`*.client_secret`…), a large share of the line's cost, and this line is
    // made only of fields that hold no secret (no header, body or query string). Other lines keep them.
    const lineLog = app.log.child({}, { redact: [] });
    app.addHook('onResponse', (request, reply, done) => {
      logRequest(lineLog, request, reply);
      recordMetrics?.(request, reply);
      done();
    });
  },
  { name: 'request-log', dependencies: ['metrics'] },
);
