import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { DestinationStream } from 'pino';
import infrastructure from './plugins/infrastructure.ts';
import services from './plugins/services.ts';
import type { Config } from './config.ts';
import { createLogDestination, type LogDestinationStats } from './log-destination.ts';
import errorHandler, { frameworkError } from './http/error-handler.ts';
import bodyParsers from './http/body-parsers.ts';
import auth from './http/auth.ts';
import counters from './http/counters.ts';
import cors from './http/cors.ts';
import rateLimit from './http/rate-limit.ts';
import loginGuard from './http/login-guard.ts';
import requestLog, { LOG_URL_HYGIENE, lazyChildLogger } from './http/request-log.ts';
import draining from './http/draining.ts';
import { clientErrorHandler } from './http/client-error.ts';
import { parseQueryString } from './http/query-string.ts';
import closedQuery from './http/closed-query.ts';
import wellFormedText from './http/well-formed-text.ts';
import responseHeaders from './http/response-headers.ts';
import metrics from './plugins/metrics.ts';
import { createValidatorCompiler } from './http/validation.ts';
import type { CompileCache } from './http/compile-cache.ts';
import type { ScryptCost } from './crypto/password.ts';
import { openApiOptions } from './plugins/openapi.ts';
import apiReference from './plugins/api-reference.ts';
import { ErrorBody, ValidationErrorBody } from './schemas/common.ts';
import { AccessToken } from './schemas/auth.ts';
import { CreateCredentialsApi3, CredentialsApi3, Role, User } from './schemas/users.ts';
import { SHARED_SCHEMAS as EOA_SCHEMAS } from './schemas/external-oauth-applications.ts';
import { SHARED_SCHEMAS as AUDIT_SCHEMAS } from './schemas/audit-events.ts';
import { TOKEN_SCHEMAS } from './schemas/external-oauth-tokens.ts';
import apiRoutes from './api/index.ts';
import publicRoutes from './api/public.ts';
import { callbackRoutes } from './api/external-oauth-connect.ts';
import { CONNECT_SCHEMAS } from './schemas/external-oauth-connect.ts';
import { logoutAlias } from './api/auth.ts';
import consolePlugin, { rootRedirect } from './console/index.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Lines the log destination dropped (a failing disk); null when the caller gave its own stream. */
    logStats: LogDestinationStats | null;
  }
}

interface BuildOptions {
  /** Where log lines go (tests capture them); stdout when omitted. */
  logStream?: DestinationStream;
  /** Tests only: schemas compiled once for all the apps of the process (compile-cache.ts). */
  compileCache?: CompileCache;
  /**
   * Tests only: a cheaper scrypt cost for the hashes this app makes (test apps make hundreds). Never from
   * the environment or the configuration: a server started by main.ts always hashes at SCRYPT_COST.
   */
  scryptCost?: ScryptCost;
}

/** Schemas referenced by `$ref` from routes, registered once for validation and the OpenAPI document. */
const SHARED_SCHEMAS = [ErrorBody, ValidationErrorBody, AccessToken, CredentialsApi3, CreateCredentialsApi3, User, Role, ...EOA_SCHEMAS, ...CONNECT_SCHEMAS, ...TOKEN_SCHEMAS, ...AUDIT_SCHEMAS];

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export async function buildServer(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  // Stdout written asynchronously: lines queue while a write is in flight and go out together, so
  // logging costs no syscall per request. A failing stdout (a full disk) drops lines, never the service.
  const logDestination = options.logStream ? null : createLogDestination(1);
  const app = Fastify({
    logger: {
      level: config.logLevel,
      stream: options.logStream ?? logDestination!.stream,
      // Belt and braces: nothing logs headers, but if anything ever does, these never reach the output.
      redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.client_secret', '*.access_token', '*.refresh_token'], censor: '[redacted]' },
      // No query string reaches any line, whatever logs it (request-log.ts).
      ...LOG_URL_HYGIENE,
    },
    // request-log.ts writes the one line per request; fastify's own two lines are off.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyChildLogger,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    bodyLimit: config.http.bodyLimitBytes,
    trustProxy: config.http.trustProxy as boolean | string | string[],
    requestTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    // Node enforces the header and request timeouts on this sweep (30 s by default), so a slow client
    // would otherwise hold its socket up to 30 s past them.
    http: { connectionsCheckingInterval: checkingInterval(config.http) },
    connectionTimeout: 0,
    // Off: draining.ts answers while closing, in Looker's error shape; client-error.ts does the same for
    // requests Node cannot parse.
    return503OnClosing: false,
    clientErrorHandler,
    routerOptions: { maxParamLength: 2048, ignoreTrailingSlash: true, querystringParser: parseQueryString },
    // An undecodable path or an over-long path parameter gets Looker's 404 body, not fastify's own.
    frameworkErrors: frameworkError,
    ...(options.compileCache ? { schemaController: { compilersFactory: { buildSerializer: options.compileCache.serializerFactory() } } } : {}),
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.server.headersTimeout = config.http.headersTimeoutMs;
  app.decorate('logStats', logDestination?.stats ?? null);

  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  const validatorCompiler = createValidatorCompiler(SHARED_SCHEMAS);
  app.setValidatorCompiler(options.compileCache?.validatorCompiler(SHARED_SCHEMAS, validatorCompiler) ?? validatorCompiler);

  // Layer 1: infrastructure.
  await app.register(infrastructure, { config });
  await app.register(swagger, openApiOptions(config));
  await app.register(errorHandler);
  // After the error handler, so /metrics answers errors in Looker's shape.
  await app.register(metrics, { config });
  const logStats = app.logStats;
  if (logStats) app.metrics.watchDroppedLogLines(() => logStats.droppedLines);
  await app.register(requestLog);
  await app.register(draining);
  await app.register(responseHeaders);
  await app.register(closedQuery);
  await app.register(wellFormedText);
  await app.register(counters, { config });
  await app.register(cors, { origins: config.http.corsOrigins });
  await app.register(bodyParsers);
  // Layer 2: services.
  await app.register(services, { scryptCost: options.scryptCost });
  await app.register(auth);
  // After auth: the limit is keyed by the caller the auth hook resolved.
  await app.register(rateLimit);
  await app.register(loginGuard);
  // Layer 3: routes.
  await app.register(publicRoutes);
  await app.register(callbackRoutes);
  await app.register(apiRoutes, { prefix: '/api/4.0' });
  await app.register(logoutAlias, { prefix: '/api' });
  await app.register(apiReference);
  await app.register(consolePlugin, { prefix: '/console' });
  await app.register(rootRedirect);
  return app;
}

/** A tenth of the shortest slow-client timeout, between 50 ms and 1 s. */
function checkingInterval({ headersTimeoutMs, requestTimeoutMs }: Config['http']): number {
  const shortest = Math.min(...[headersTimeoutMs, requestTimeoutMs].filter((ms) => ms > 0), 10_000);
  return Math.min(1000, Math.max(50, Math.floor(shortest / 10)));
}
