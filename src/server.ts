import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import formbody from '@fastify/formbody';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { DestinationStream } from 'pino';
import type { Config } from './config.ts';
import { openStore, type Store } from './store/database.ts';
import { migrateToLatest } from './store/migrate.ts';
import { createRepositories, type Repositories } from './store/repositories.ts';
import { loadSecretBox } from './crypto/master-key.ts';
import type { SecretBox } from './crypto/secret-box.ts';
import { createServices, type Services } from './services/index.ts';
import errorHandler from './http/error-handler.ts';
import auth from './http/auth.ts';
import requestLog from './http/request-log.ts';
import { createValidatorCompiler } from './http/validation.ts';
import { ErrorBody, ValidationErrorBody } from './schemas/common.ts';
import { AccessToken } from './schemas/auth.ts';
import { CreateCredentialsApi3, CredentialsApi3, Role, User } from './schemas/users.ts';
import { SHARED_SCHEMAS as EOA_SCHEMAS } from './schemas/external-oauth-applications.ts';
import apiRoutes from './api/index.ts';
import publicRoutes from './api/public.ts';
import { logoutAlias } from './api/auth.ts';

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

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export async function buildServer(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      ...(options.logStream ? { stream: options.logStream } : {}),
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
    connectionTimeout: 0,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 2048, ignoreTrailingSlash: true },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.server.headersTimeout = config.http.headersTimeoutMs;

  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  app.setValidatorCompiler(createValidatorCompiler(SHARED_SCHEMAS));

  // Layer 1: infrastructure.
  await app.register(infrastructure, { config });
  await app.register(swagger, openApiOptions(config));
  await app.register(errorHandler);
  await app.register(requestLog);
  await app.register(formbody, { bodyLimit: config.http.bodyLimitBytes });
  // Layer 2: services.
  await app.register(services);
  await app.register(auth);
  // Layer 3: routes.
  await app.register(publicRoutes);
  await app.register(apiRoutes, { prefix: '/api/4.0' });
  await app.register(logoutAlias, { prefix: '/api' });
  return app;
}

const infrastructure = fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    const secretBox = loadSecretBox(config.masterKey, config.dataDir);
    const store = openStore(config);
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
      servers: config.publicUrl ? [{ url: `${config.publicUrl}/api/4.0` }] : [],
      components: {
        securitySchemes: { bearer: { type: 'http' as const, scheme: 'bearer' } },
      },
    },
    refResolver: { buildLocalReference: (json: { $id?: unknown }, _base: unknown, _frag: unknown, i: number) => String(json.$id ?? `def-${i}`) },
  };
}
