import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { FieldsQuery, LimitQuery, NoContent, OffsetQuery, errorResponses } from '../schemas/common.ts';
import { CredentialsApi3Body, CredentialsParams, RoleIdsBody, UserBody, UserParams } from '../schemas/users.ts';
import { callerOf } from '../http/auth.ts';
import { requestContext } from '../http/request-context.ts';
import { badRequest } from '../errors.ts';
import { noContent } from '../http/no-content.ts';
import type { User } from '../store/users-repository.ts';
import { presentCredentials, presentRole, presentUser } from './present.ts';

const TAGS = ['User'];

/** The query string of the operations whose only documented parameter is `fields`. */
const FieldsOnly = Type.Object({ fields: FieldsQuery });

export default async function usersRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const users = app.services.users;

  /** Users with their API credentials, fetched for all of them in one query through the service. */
  async function presentAll(request: FastifyRequest, list: User[]) {
    const credentials = await users.credentialsOf(list);
    return list.map((user) => presentUser(request, callerOf(request), user, credentials.get(user.id) ?? []));
  }
  const present = async (request: FastifyRequest, user: User) => (await presentAll(request, [user]))[0];

  app.get(
    '/user',
    {
      schema: { operationId: 'me', tags: TAGS, summary: 'Get Current User', querystring: FieldsOnly, response: { 200: Type.Ref('User'), ...errorResponses() } },
      config: { access: 'user' },
    },
    async (request) => present(request, await users.get(callerOf(request).userId)),
  );

  app.get(
    '/users',
    {
      schema: {
        operationId: 'all_users',
        tags: TAGS,
        summary: 'Get All Users',
        querystring: Type.Object({
          fields: FieldsQuery,
          limit: LimitQuery,
          offset: OffsetQuery,
          ids: Type.Optional(Type.String({ description: 'Optional comma-separated list of ids to get specific users.' })),
          // Looker's deprecated paging, still documented: page N (from 1) of per_page rows.
          page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'DEPRECATED. Use limit and offset instead. Return only page N of paginated results.' })),
          per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'DEPRECATED. Use limit and offset instead. Return N rows of data per page.' })),
          // Users always come ordered by id: that order may be asked for, no other (which would be silently ignored).
          sorts: Type.Optional(Type.String({ pattern: '^id( asc)?$', description: 'Fields to sort by: only `id` (ascending), the order users always come in.' })),
        }),
        response: { 200: Type.Array(Type.Ref('User')), ...errorResponses() },
      },
      config: { access: 'admin' },
    },
    async (request) => {
      const { ids, page, per_page } = request.query;
      if (page !== undefined && per_page === undefined) throw badRequest('Invalid query string. page: Needs per_page.');
      const limit = request.query.limit ?? per_page;
      const offset = request.query.offset ?? (page !== undefined && per_page !== undefined ? (page - 1) * per_page : undefined);
      const list = await users.list({ limit, offset, ids: ids?.split(',').map((s) => s.trim()).filter(Boolean) });
      return presentAll(request, list);
    },
  );

  app.post(
    '/users',
    {
      schema: { operationId: 'create_user', tags: TAGS, summary: 'Create User', querystring: FieldsOnly, body: UserBody, response: { 200: Type.Ref('User'), ...errorResponses(409, 413, 422) } },
      config: { access: 'admin' },
    },
    async (request) => present(request, await users.create(requestContext(request), request.body)),
  );

  app.get(
    '/users/:user_id',
    {
      schema: { operationId: 'user', tags: TAGS, summary: 'Get User by Id', params: UserParams, querystring: FieldsOnly, response: { 200: Type.Ref('User'), ...errorResponses() } },
      config: { access: 'self' },
    },
    async (request) => present(request, await users.get(request.params.user_id)),
  );

  app.patch(
    '/users/:user_id',
    {
      schema: { operationId: 'update_user', tags: TAGS, summary: 'Update User', params: UserParams, querystring: FieldsOnly, body: UserBody, response: { 200: Type.Ref('User'), ...errorResponses(403, 409, 413, 422) } },
      config: { access: 'admin' },
    },
    async (request) => present(request, await users.update(requestContext(request), callerOf(request).userId, request.params.user_id, request.body)),
  );

  app.delete(
    '/users/:user_id',
    {
      schema: { operationId: 'delete_user', tags: TAGS, summary: 'Delete User', params: UserParams, response: { 204: NoContent, ...errorResponses(403) } },
      config: { access: 'admin' },
    },
    async (request, reply) => {
      await users.delete(requestContext(request), callerOf(request).userId, request.params.user_id);
      return noContent(reply);
    },
  );

  app.get(
    '/users/:user_id/credentials_api3',
    {
      schema: { operationId: 'all_user_credentials_api3s', tags: TAGS, summary: 'Get All API Credentials', params: UserParams, querystring: FieldsOnly, response: { 200: Type.Array(Type.Ref('CredentialsApi3')), ...errorResponses(403) } },
      config: { access: 'admin' },
    },
    async (request) => {
      const list = await users.listCredentials(request.params.user_id);
      return list.map((c) => presentCredentials(request, callerOf(request), c));
    },
  );

  app.post(
    '/users/:user_id/credentials_api3',
    {
      schema: {
        operationId: 'create_user_credentials_api3',
        tags: TAGS,
        summary: 'Create API Credential',
        description: 'The response is the only place the client_secret ever appears.',
        params: UserParams,
        body: CredentialsApi3Body,
        querystring: FieldsOnly,
        response: { 200: Type.Ref('CreateCredentialsApi3'), ...errorResponses(403, 409, 413, 422) },
      },
      config: { access: 'admin', carriesSecret: true },
      // The SDK may send no body at all; that means "no purpose", not a malformed request.
      preValidation: async (request) => {
        // Only a missing body: a JSON `null` is still the wrong type of body (400).
        if (request.body === undefined) request.body = {};
      },
    },
    async (request) => {
      const created = await users.createCredentials(requestContext(request), request.params.user_id, request.body?.purpose ?? null);
      return { ...presentCredentials(request, callerOf(request), created), client_secret: created.client_secret };
    },
  );

  app.get(
    '/users/:user_id/credentials_api3/:credentials_api3_id',
    {
      schema: { operationId: 'user_credentials_api3', tags: TAGS, summary: 'Get API Credential', params: CredentialsParams, querystring: FieldsOnly, response: { 200: Type.Ref('CredentialsApi3'), ...errorResponses(403) } },
      config: { access: 'admin' },
    },
    async (request) => presentCredentials(request, callerOf(request), await users.getCredentials(request.params.user_id, request.params.credentials_api3_id)),
  );

  app.patch(
    '/users/:user_id/credentials_api3/:credentials_api3_id',
    {
      schema: { operationId: 'update_user_credentials_api3', tags: TAGS, summary: 'Update API Credential', params: CredentialsParams, querystring: FieldsOnly, body: CredentialsApi3Body, response: { 200: Type.Ref('CredentialsApi3'), ...errorResponses(403, 413, 422) } },
      config: { access: 'admin' },
    },
    async (request) => {
      const { user_id, credentials_api3_id } = request.params;
      return presentCredentials(request, callerOf(request), await users.updateCredentials(requestContext(request), user_id, credentials_api3_id, request.body));
    },
  );

  app.delete(
    '/users/:user_id/credentials_api3/:credentials_api3_id',
    {
      schema: { operationId: 'delete_user_credentials_api3', tags: TAGS, summary: 'Delete API Credential', params: CredentialsParams, response: { 204: NoContent, ...errorResponses(403) } },
      config: { access: 'admin' },
    },
    async (request, reply) => {
      await users.deleteCredentials(requestContext(request), request.params.user_id, request.params.credentials_api3_id);
      return noContent(reply);
    },
  );

  app.get(
    '/users/:user_id/roles',
    {
      schema: {
        operationId: 'user_roles',
        tags: TAGS,
        summary: 'Get User Roles',
        params: UserParams,
        querystring: Type.Object({ fields: FieldsQuery, direct_association_only: Type.Optional(Type.Boolean()) }),
        response: { 200: Type.Array(Type.Ref('Role')), ...errorResponses() },
      },
      config: { access: 'self' },
    },
    async (request) => (await users.userRoles(request.params.user_id)).map((r) => presentRole(request, callerOf(request), r)),
  );

  app.put(
    '/users/:user_id/roles',
    {
      schema: { operationId: 'set_user_roles', tags: TAGS, summary: 'Set User Roles', params: UserParams, querystring: FieldsOnly, body: RoleIdsBody, response: { 200: Type.Array(Type.Ref('Role')), ...errorResponses(403, 413, 422) } },
      config: { access: 'admin' },
    },
    async (request) => {
      const roles = await users.setUserRoles(requestContext(request), callerOf(request).userId, request.params.user_id, request.body);
      return roles.map((r) => presentRole(request, callerOf(request), r));
    },
  );
}
