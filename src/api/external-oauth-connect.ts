import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponses } from '../schemas/common.ts';
import { AuthorizeRequest, OAuthCallbackQuery } from '../schemas/external-oauth-connect.ts';
import { ExternalOauthApplicationParams } from '../schemas/external-oauth-applications.ts';
import { callerOf } from '../http/auth.ts';
import { requestContext } from '../http/request-context.ts';
import { REDIRECT_PATH } from '../oauth/connect.ts';
import { ConnectFailure, type CallbackQuery } from '../services/oauth-connect.ts';
import { connectedPage, failurePage, internalErrorPage, secureCallbackHeaders } from './connect-pages.ts';

const TAGS = ['Connection'];

/** An HTML page the callback answers with: what happened and what to do. */
const htmlPage = (description: string) => ({ description: `${description} (HTML page)`, content: { 'text/html': { schema: Type.String() } } });

/** A query parameter given once, or nothing: a repeated `state` or `code` is not an answer to trust. */
function single(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** POST …/{client_id}/authorize, under /api/4.0. */
export async function authorizeRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/external_oauth_applications/:client_id/authorize',
    {
      schema: {
        operationId: 'authorize_external_oauth_application',
        tags: TAGS,
        summary: 'Start connecting yourself to the external system (ours)',
        description:
          'Answers the provider URL to send your browser to (authorization code with PKCE); it is valid for 10 minutes and once. ' +
          'After you sign in there, the provider returns to /external_oauth/redirect, which stores your tokens for this application ' +
          'and sends you to `return_to` (a path on this service, or an origin listed in EOA_RETURN_TO_ORIGINS).',
        params: ExternalOauthApplicationParams,
        body: AuthorizeRequest,
        response: { 200: Type.Ref('OAuthAuthorization'), ...errorResponses(413, 422, 502, 504) },
      },
      // The answer's URL carries the state: `carriesSecret` keeps it out of every cache.
      config: { access: 'member', carriesSecret: true },
      // No body means no return_to, not a malformed request; a JSON `null` is still the wrong type (400).
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {};
      },
    },
    async (request) => {
      return app.services.oauthConnect.start(callerOf(request), request.params.client_id, request.body ?? {});
    },
  );
}

/** GET /external_oauth/redirect: Looker's own callback path, public (the state is the binding). */
export async function callbackRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    REDIRECT_PATH,
    {
      schema: {
        operationId: 'external_oauth_redirect',
        tags: TAGS,
        summary: 'OAuth callback (ours; for browsers)',
        description:
          "Where the provider sends the user's browser back. Consumes the state, checks iss (RFC 9207), exchanges the code and stores the tokens; " +
          'then 303 to return_to, or an HTML page that says what happened and what to do.',
        querystring: OAuthCallbackQuery,
        response: {
          200: htmlPage('Connected'),
          303: { description: 'Connected; the browser is sent on to return_to' },
          400: htmlPage('The answer is missing, unknown, already used, expired, or from the wrong provider; or the provider refused the code'),
          403: htmlPage('The user or the provider did not grant access'),
          404: htmlPage('The application or the user was deleted meanwhile'),
          500: htmlPage('This service failed; nothing was stored'),
          502: htmlPage('The provider failed, refused the client credentials, or answered something unexpected'),
          504: htmlPage('The provider did not answer in time'),
        },
      },
      config: { access: 'public' },
      // A browser is at the other end: a repeated parameter gets the page that says so, not a JSON 400.
      attachValidation: true,
    },
    async (request, reply) => {
      secureCallbackHeaders(reply);
      const query = request.query as Record<string, unknown>;
      const callback: CallbackQuery = { state: single(query.state), code: single(query.code), error: single(query.error), iss: single(query.iss) };
      try {
        const { returnTo, applicationName } = await app.services.oauthConnect.complete(requestContext(request), callback);
        if (returnTo !== null) return reply.code(303).header('location', returnTo).send();
        return reply.type('text/html; charset=utf-8').send(connectedPage(applicationName));
      } catch (error) {
        if (!(error instanceof ConnectFailure)) {
          // A browser is waiting: it gets a page too. The details go to the log under the request id.
          request.log.error({ err: error, reqId: request.id }, 'oauth connect failed unexpectedly');
          return reply.code(500).type('text/html; charset=utf-8').send(internalErrorPage(request.id));
        }
        // The reason is a code of ours; nothing from the query or the provider goes into the log line.
        request.log.info({ reason: error.reason }, 'oauth connect failed');
        const { status, html } = failurePage(error.reason);
        return reply.code(status).type('text/html; charset=utf-8').send(html);
      }
    },
  );
}
