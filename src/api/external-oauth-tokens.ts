import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NoContent, errorResponses } from '../schemas/common.ts';
import { ExternalOauthApplicationParams } from '../schemas/external-oauth-applications.ts';
import { AccessTokenRequest, UserStateParams, UserStatesQuery } from '../schemas/external-oauth-tokens.ts';
import { callerOf } from '../http/auth.ts';
import { requestContext } from '../http/request-context.ts';
import { noContent } from '../http/no-content.ts';

/**
 * Ours, beyond Looker: the OAuth broker's side that hands out users' tokens. Fresh access tokens on
 * request (refreshed on read, one refresh per token however many ask), the status of each user's state
 * (never its tokens), disconnecting a user (revoked at the provider, best effort), and a check of the
 * application's client credentials at the provider.
 */
const TAGS = ['Connection'];
const PATH = '/external_oauth_applications/:client_id';

export default async function externalOauthTokensRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tokens = app.services.externalOauthTokens;

  app.post(
    `${PATH}/access_token`,
    {
      schema: {
        operationId: 'external_oauth_application_access_token',
        tags: TAGS,
        summary: "Get a user's access token",
        description:
          "(ours) The user's access token at the application's external system, refreshed first when it expires within EOA_REFRESH_MARGIN_S. " +
          'Default user: the caller; admins may name any user. 409: the user must connect again. 502/504: the provider failed; the stored tokens are unchanged.',
        params: ExternalOauthApplicationParams,
        body: AccessTokenRequest,
        response: { 200: Type.Ref('ExternalOauthAccessToken'), ...errorResponses(409, 413, 422, 502, 504) },
      },
      config: { access: 'member', carriesSecret: true },
      // A client may send no body: that means "my own token", not a malformed request.
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {};
      },
    },
    async (request) => {
      return tokens.accessToken(requestContext(request), callerOf(request), request.params.client_id, request.body.user_id);
    },
  );

  app.get(
    `${PATH}/user_states`,
    {
      schema: {
        operationId: 'all_external_oauth_application_user_states',
        tags: TAGS,
        summary: "Get the status of every user's state",
        description: '(ours) In user id order; `limit` (default 100) and `offset` page the list. Never the tokens.',
        params: ExternalOauthApplicationParams,
        querystring: UserStatesQuery,
        response: { 200: Type.Array(Type.Ref('ExternalOauthUserStateStatus')), ...errorResponses() },
      },
      config: { access: 'admin' },
    },
    async (request) => tokens.list(request.params.client_id, request.query),
  );

  app.get(
    `${PATH}/user_states/:user_id`,
    {
      schema: {
        operationId: 'external_oauth_application_user_state',
        tags: TAGS,
        summary: "Get the status of a user's state",
        description: '(ours) Admins, or that user. Never the tokens.',
        params: UserStateParams,
        response: { 200: Type.Ref('ExternalOauthUserStateStatus'), ...errorResponses() },
      },
      config: { access: 'self' },
    },
    async (request) => tokens.status(callerOf(request), request.params.client_id, request.params.user_id),
  );

  app.delete(
    `${PATH}/user_states/:user_id`,
    {
      schema: {
        operationId: 'delete_external_oauth_application_user_state',
        tags: TAGS,
        summary: "Disconnect a user (delete their state)",
        description: '(ours) Admins, or that user. Deleted here, then revoked at the provider (RFC 7009) where it has a revocation endpoint, best effort.',
        params: UserStateParams,
        response: { 204: NoContent, ...errorResponses() },
      },
      config: { access: 'self' },
    },
    async (request, reply) => {
      await tokens.disconnect(requestContext(request), callerOf(request), request.params.client_id, request.params.user_id);
      return noContent(reply);
    },
  );

  app.post(
    `${PATH}/check`,
    {
      schema: {
        operationId: 'check_external_oauth_application',
        tags: TAGS,
        summary: "Check the application's client credentials at the provider",
        description:
          '(ours) Asks the token endpoint to refresh a refresh token that was never issued: invalid_grant proves the client id and secret are accepted, invalid_client that they are not.',
        params: ExternalOauthApplicationParams,
        response: { 200: Type.Ref('ExternalOauthCredentialCheck'), ...errorResponses() },
      },
      config: { access: 'admin' },
    },
    async (request) => tokens.check(request.params.client_id),
  );
}
