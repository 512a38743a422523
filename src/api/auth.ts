import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import formbody from '@fastify/formbody';
import { LoginCredentials, UserIdParams } from '../schemas/auth.ts';
import { NoContent, errorResponses } from '../schemas/common.ts';
import { ApiError, notFound } from '../errors.ts';
import { callerOf } from '../http/auth.ts';
import { requestContext } from '../http/request-context.ts';
import { noContent } from '../http/no-content.ts';

const TAGS = ['ApiAuth'];

export default async function authRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  // Only login takes a form body (what the SDKs send); every other route speaks JSON alone.
  await app.register(formbody, { bodyLimit: app.config.http.bodyLimitBytes });

  app.post(
    '/login',
    {
      schema: {
        operationId: 'login',
        tags: TAGS,
        summary: 'Login',
        description: 'Present client credentials (form body or, deprecated, query string) to obtain an access token.',
        querystring: LoginCredentials,
        consumes: ['application/x-www-form-urlencoded'],
        response: { 200: Type.Ref('AccessToken'), ...errorResponses() },
      },
      // loginGuard: failed attempts per address and client_id are counted; past the limit, 429 (http/login-guard.ts).
      config: { access: 'public', loginGuard: true, carriesSecret: true },
    },
    async (request) => {
      const { client_id, client_secret } = readCredentials(request.body, request.query);
      const token = await app.services.sessions.login(requestContext(request), client_id, client_secret);
      if (!token) throw notFound();
      return token;
    },
  );

  app.post(
    '/login/:user_id',
    {
      schema: {
        operationId: 'login_user',
        tags: TAGS,
        summary: 'Login user',
        description: 'Admin only: an access token that acts as the given user.',
        params: UserIdParams,
        response: { 200: Type.Ref('AccessToken'), ...errorResponses(403) },
      },
      config: { access: 'admin', carriesSecret: true },
    },
    async (request) => {
      const token = await app.services.sessions.loginAsUser(requestContext(request), callerOf(request), request.params.user_id);
      if (!token) throw notFound();
      return token;
    },
  );

  app.delete('/logout', LOGOUT, logout);
}

const LOGOUT = {
  schema: { operationId: 'logout', tags: TAGS, summary: 'Logout', response: { 204: NoContent, ...errorResponses() } },
  config: { access: 'user' as const },
};

async function logout(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
  await this.services.sessions.logout(requestContext(request), callerOf(request));
  return noContent(reply);
}

/** The Python SDK logs out at /api/logout, outside the versioned prefix; registered with prefix /api. */
export async function logoutAlias(app: FastifyInstance) {
  app.delete('/logout', { ...LOGOUT, schema: { ...LOGOUT.schema, hide: true } }, logout);
}

const CREDENTIAL_MAX = 1024;

/** Credentials from the form body first, then the query string; anything missing or odd fails like a wrong secret. */
function readCredentials(body: unknown, query: { client_id?: string; client_secret?: string }) {
  const form = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const pick = (key: 'client_id' | 'client_secret') => {
    const value = form[key] ?? query[key];
    return typeof value === 'string' && value.length > 0 && value.length <= CREDENTIAL_MAX ? value : null;
  };
  const client_id = pick('client_id');
  const client_secret = pick('client_secret');
  if (client_id === null || client_secret === null) throw new ApiError('not_found');
  return { client_id, client_secret };
}
