import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NoContent, errorResponses } from '../schemas/common.ts';
import {
  CreateExternalOauthApplicationBody,
  CreateOAuthApplicationUserStateRequest,
  ExternalOauthApplication,
  ExternalOauthApplicationParams,
  ExternalOauthApplicationQuery,
  UpdateExternalOauthApplicationBody,
} from '../schemas/external-oauth-applications.ts';
import { callerOf } from '../http/auth.ts';
import { requestContext } from '../http/request-context.ts';
import { adminCan } from './present.ts';
import { jsonArray } from './json-stream.ts';
import { invalid, type ValidationProblem } from '../errors.ts';
import { noContent } from '../http/no-content.ts';
import { toValidationProblems, wrongBodyType } from '../http/validation.ts';
import type { Caller } from '../services/sessions.ts';
import { applicationRuleProblems, type ExternalOauthApplicationView } from '../services/external-oauth-applications.ts';
import { userStateRuleProblems } from '../services/user-states.ts';

const TAGS = ['Connection'];
const PATH = '/external_oauth_applications';

/** Looker's ExternalOauthApplication: `can` from the caller's role; the client secret is never part of it. */
function present(caller: Caller, app: ExternalOauthApplicationView) {
  return {
    can: adminCan(caller),
    id: app.id,
    name: app.name,
    client_id: app.client_id,
    tenant_id: app.tenant_id,
    dialect_name: app.dialect_name,
    bi_directional_data_access: app.bi_directional_data_access,
    provider_url: app.provider_url,
    authorization_endpoint: app.authorization_endpoint,
    token_endpoint: app.token_endpoint,
    revocation_endpoint: app.revocation_endpoint,
    issuer: app.issuer,
    scopes: app.scopes,
    token_endpoint_auth_method: app.token_endpoint_auth_method,
    has_previous_secret: app.has_previous_secret,
    previous_secret_expires_at: app.previous_secret_expires_at,
    created_at: app.created_at,
  };
}

/**
 * These routes take schema problems attached (`attachValidation`) instead of thrown, so that the
 * service's rules, checked on the same body, land in the same 422: a client learns everything wrong with a
 * request at once. A body that is not a JSON object stays a 400, and goes to the error handler as is.
 */
function rejectWith(rules: (request: FastifyRequest) => ValidationProblem[]) {
  return async (request: FastifyRequest) => {
    const error = request.validationError as (Error & { validation: never; validationContext?: string }) | undefined;
    if (!error) return;
    if (error.validationContext !== 'body' || wrongBodyType(error.validation) !== null) throw error;
    const problems = [...toValidationProblems(error.validation, 'body'), ...rules(request)];
    const seen = new Set<string>();
    throw invalid(problems.filter((p) => !seen.has(`${p.field}|${p.code}`) && seen.add(`${p.field}|${p.code}`)));
  };
}

export default async function externalOauthApplicationsRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const applications = app.services.externalOauthApplications;
  const ruleOptions = { allowInsecureProviders: app.config.oauth.allowInsecureProviders };

  app.get(
    PATH,
    {
      schema: {
        operationId: 'all_external_oauth_applications',
        tags: TAGS,
        summary: 'Get All External OAuth Applications',
        description:
          'Exact-match filters, both optional and combinable; ordered by id. `limit` and `offset` (ours, optional) page the list.',
        querystring: ExternalOauthApplicationQuery,
        response: { 200: Type.Array(Type.Ref('ExternalOauthApplication')), ...errorResponses() },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => {
      const { name, client_id, limit, offset } = request.query;
      const caller = callerOf(request);
      if (name === undefined && client_id === undefined) {
        // The whole table may be large: streamed, each item through the same response schema.
        const serialize = reply.compileSerializationSchema(ExternalOauthApplication as unknown as Record<string, unknown>);
        const items = await applications.stream({ limit, offset });
        reply.type('application/json; charset=utf-8');
        return reply.send(Readable.from(jsonArray(items, (a) => serialize(present(caller, a)))));
      }
      return (await applications.list({ name, client_id, limit, offset })).map((a) => present(caller, a));
    },
  );

  app.post(
    PATH,
    {
      schema: {
        operationId: 'create_external_oauth_application',
        tags: TAGS,
        summary: 'Create External OAuth Application',
        description: 'The client_secret is sealed at rest and never returned.',
        body: CreateExternalOauthApplicationBody,
        response: { 200: Type.Ref('ExternalOauthApplication'), ...errorResponses(409, 413, 422) },
      },
      config: { access: 'admin' },
      attachValidation: true,
      preHandler: rejectWith((request) => applicationRuleProblems(request.body, undefined, ruleOptions)),
    },
    async (request) => present(callerOf(request), await applications.create(requestContext(request), request.body)),
  );

  // A static segment wins over `/:client_id` for POST only: PATCH and DELETE of an application whose
  // client_id is `user_state` still reach the routes below.
  app.post(
    `${PATH}/user_state`,
    {
      schema: {
        operationId: 'create_oauth_application_user_state',
        tags: TAGS,
        summary: 'Create OAuth user state',
        description: "Stores a user's tokens for an application, replacing earlier ones. Admins may set any user's; users with the User role only their own.",
        body: CreateOAuthApplicationUserStateRequest,
        response: { 200: Type.Ref('CreateOAuthApplicationUserStateResponse'), ...errorResponses(413, 422) },
      },
      // 'member', not 'user': a user with no role may log in and read itself, but stores nothing.
      config: { access: 'member' },
      attachValidation: true,
      preHandler: rejectWith((request) => userStateRuleProblems(request.body)),
    },
    async (request) => app.services.userStates.set(requestContext(request), callerOf(request), request.body),
  );

  app.patch(
    `${PATH}/:client_id`,
    {
      schema: {
        operationId: 'update_external_oauth_application',
        tags: TAGS,
        summary: 'Update External OAuth Application',
        description: 'Partial update, mainly to rotate the client_secret. The path client_id is percent-encoded.',
        params: ExternalOauthApplicationParams,
        body: UpdateExternalOauthApplicationBody,
        response: { 200: Type.Ref('ExternalOauthApplication'), ...errorResponses(409, 413, 422) },
      },
      config: { access: 'admin' },
      attachValidation: true,
      preHandler: rejectWith((request) => applicationRuleProblems(request.body, (request.params as { client_id: string }).client_id, ruleOptions)),
    },
    async (request) => present(callerOf(request), await applications.update(requestContext(request), request.params.client_id, request.body)),
  );

  app.delete(
    `${PATH}/:client_id`,
    {
      schema: {
        operationId: 'delete_external_oauth_application',
        tags: TAGS,
        summary: 'Delete External OAuth Application',
        description: "Deletes the application and every user's state for it.",
        params: ExternalOauthApplicationParams,
        response: { 204: NoContent, ...errorResponses() },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => {
      // Through the token service: the users' tokens are revoked at the provider too (external-oauth-tokens.ts).
      await app.services.externalOauthTokens.deleteApplication(requestContext(request), request.params.client_id);
      return noContent(reply);
    },
  );
}
