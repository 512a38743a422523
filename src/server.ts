import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { pino, type DestinationStream } from 'pino';
import type { Config } from './config.ts';
import { openStore, type Store } from './store/database.ts';
import { migrateToLatest } from './store/migrate.ts';
import { createRepositories, type Repositories } from './store/repositories.ts';
import { loadSecretBox } from './crypto/master-key.ts';
import type { SecretBox } from './crypto/secret-box.ts';
import { createServices, type Services } from './services/index.ts';
import errorHandler, { frameworkError } from './http/error-handler.ts';
import bodyParsers from './http/body-parsers.ts';
import auth from './http/auth.ts';
import counters from './http/counters.ts';
import cors from './http/cors.ts';
import rateLimit from './http/rate-limit.ts';
import loginGuard from './http/login-guard.ts';
import requestLog from './http/request-log.ts';
import { createValidatorCompiler } from './http/validation.ts';
import { ErrorBody, ValidationErrorBody } from './schemas/common.ts';
import { AccessToken } from './schemas/auth.ts';
import { CreateCredentialsApi3, CredentialsApi3, Role, User } from './schemas/users.ts';
import { SHARED_SCHEMAS as EOA_SCHEMAS } from './schemas/external-oauth-applications.ts';
import apiRoutes from './api/index.ts';
import publicRoutes from './api/public.ts';
import { logoutAlias } from './api/auth.ts';
import consolePlugin, { rootRedirect } from './console/index.ts';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    store: Store;
    repos: Repositories;
    secretBox: SecretBox;
    services: Services;
  }
}

export interface BuildOptions {
  /** Where log lines go (tests capture them); stdout when omitted. */
  logStream?: DestinationStream;
}

/** Schemas referenced by `$ref` from routes, registered once for validation and the OpenAPI document. */
const SHARED_SCHEMAS = [ErrorBody, ValidationErrorBody, AccessToken, CredentialsApi3, CreateCredentialsApi3, User, Role, ...EOA_SCHEMAS];

const SESSION_PURGE_INTERVAL_MS = 10 * 60 * 1000;

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export async function buildServer(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      // Stdout written asynchronously: lines queue while a write is in flight and go out together, so
      // logging costs no syscall per request. pino flushes what is queued when the process exits.
      stream: options.logStream ?? pino.destination({ dest: 1, sync: false }),
      // Belt and braces: nothing logs headers, but if anything ever does, these never reach the output.
      redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.client_secret', '*.access_token', '*.refresh_token'], censor: '[redacted]' },
    },
    // request-log.ts writes the one line per request; fastify's own two lines are off.
    logController: new LogController({ disableRequestLogging: true }),
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
    return503OnClosing: true,
    routerOptions: { maxParamLength: 2048, ignoreTrailingSlash: true },
    // An undecodable path or an over-long path parameter gets Looker's 404 body, not fastify's own.
    frameworkErrors: frameworkError,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.server.headersTimeout = config.http.headersTimeoutMs;

  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  app.setValidatorCompiler(createValidatorCompiler(SHARED_SCHEMAS));

  // Layer 1: infrastructure.
  await app.register(infrastructure, { config });
  await app.register(swagger, openApiOptions(config));
  await app.register(errorHandler);
  await app.register(requestLog);
  await app.register(counters, { config });
  await app.register(cors, { origins: config.http.corsOrigins });
  await app.register(bodyParsers);
  // Layer 2: services.
  await app.register(services);
  await app.register(auth);
  // After auth: the limit is keyed by the caller the auth hook resolved.
  await app.register(rateLimit);
  await app.register(loginGuard);
  // Layer 3: routes.
  await app.register(publicRoutes);
  await app.register(apiRoutes, { prefix: '/api/4.0' });
  await app.register(logoutAlias, { prefix: '/api' });
  await app.register(consolePlugin, { prefix: '/console' });
  await app.register(rootRedirect);
  return app;
}

/** A tenth of the shortest slow-client timeout, between 50 ms and 1 s. */
function checkingInterval({ headersTimeoutMs, requestTimeoutMs }: Config['http']): number {
  const shortest = Math.min(...[headersTimeoutMs, requestTimeoutMs].filter((ms) => ms > 0), 10_000);
  return Math.min(1000, Math.max(50, Math.floor(shortest / 10)));
}

const infrastructure = fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    const secretBox = loadSecretBox(config.masterKey, config.dataDir);
    const store = openStore(config, {
      onConnectionError: (error) => app.log.warn({ code: (error as { code?: string }).code, message: error.message }, 'database connection lost; the pool replaces it'),
    });
    app.addHook('onClose', () => store.close());
    await migrateToLatest(store);
    app.decorate('config', config);
    app.decorate('store', store);
    app.decorate('secretBox', secretBox);
    app.decorate('repos', createRepositories(store.db));
  },
  { name: 'infrastructure' },
);

const services = fp(
  async (app: FastifyInstance) => {
    app.decorate('services', createServices({ config: app.config, store: app.store, repos: app.repos, secretBox: app.secretBox }));
    // Expired sessions answer 401 already; this only keeps the table from growing without end.
    const purge = setInterval(() => {
      app.services.sessions.purgeExpired().catch((error) => app.log.warn({ err: error }, 'purging expired sessions failed'));
    }, SESSION_PURGE_INTERVAL_MS).unref();
    app.addHook('onClose', async () => clearInterval(purge));
  },
  { name: 'services', dependencies: ['infrastructure'] },
);

function openApiOptions(config: Config) {
  return {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'external-oauth-apps: Looker API 4.0 compatible External OAuth Applications',
        version: '4.0.26.12',
      },
      // Paths carry their /api/4.0 prefix (and /versions sits at the root), so the server is the bare base.
      servers: config.publicUrl ? [{ url: config.publicUrl }] : [],
      components: {
        securitySchemes: { bearer: { type: 'http' as const, scheme: 'bearer' } },
      },
    },
    refResolver: { buildLocalReference: (json: { $id?: unknown }, _base: unknown, _frag: unknown, i: number) => String(json.$id ?? `def-${i}`) },
  };
}
