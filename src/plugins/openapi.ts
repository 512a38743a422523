import { Type } from 'typebox';
import type { FastifySchema, RouteOptions } from 'fastify';
import type { Config } from '../config.ts';

/**
 * The served OpenAPI document, completed where fastify-swagger cannot know: who may call each operation,
 * how login takes its credentials, what each success response is, and the headers every response carries.
 * `npm run lint:openapi` holds the result to Redocly's recommended rules (0 errors), in CI.
 */

const BEARER = 'bearer';

/** What each operation's success response is (Looker's wording where it has one). */
const SUCCESS_DESCRIPTIONS: Record<string, string> = {
  versions: 'ApiVersion: the API versions this server speaks and where their OpenAPI document is.',
  login: 'Access token with metadata.',
  login_user: 'Access token with metadata, acting as the given user.',
  logout: 'Logged out successfully: the token no longer works.',
  me: 'Current user.',
  all_users: 'All users.',
  create_user: 'Created User',
  user: 'Specified user.',
  update_user: 'New state for specified user.',
  delete_user: 'User successfully deleted.',
  all_user_credentials_api3s: 'API credentials of the user (never their secrets).',
  create_user_credentials_api3: 'Created API credentials, with the client_secret: shown in this response only.',
  user_credentials_api3: 'API credentials (never the secret).',
  update_user_credentials_api3: 'New state of the API credentials.',
  delete_user_credentials_api3: 'Successfully deleted.',
  all_roles: 'Role',
  user_roles: 'Roles of user.',
  set_user_roles: 'Roles of user.',
  all_external_oauth_applications: 'External OAuth Applications, ordered by id (never their secrets).',
  create_external_oauth_application: 'Created External OAuth Application (the secret is sealed and never returned).',
  update_external_oauth_application: 'New state of the External OAuth Application.',
  delete_external_oauth_application: 'Successfully deleted, with its user states.',
  create_oauth_application_user_state: 'Created user state (the tokens are sealed and never returned).',
  authorize_external_oauth_application: 'Where to send your browser to connect: the provider URL, valid once, for 10 minutes.',
  external_oauth_redirect: 'An HTML page saying that the connection is made, or what went wrong and what to do.',
  external_oauth_application_access_token: "The user's access token at the external system, fresh (never stored by a cache).",
  all_external_oauth_application_user_states: "Every user's connection status for the application (never the tokens).",
  external_oauth_application_user_state: "The user's connection status for the application (never the tokens).",
  delete_external_oauth_application_user_state: 'Disconnected: the tokens are deleted here and revoked at the provider where it can.',
  check_external_oauth_application: 'What the provider said of the client id and secret.',
  all_audit_events: 'Audit events, newest first, with the cursor of the next page.',
};

/** Login's form body: what the SDKs send, and the only place credentials belong. */
const LoginForm = Type.Object(
  {
    client_id: Type.String({ description: 'client_id part of API Key.' }),
    client_secret: Type.String({ description: 'client_secret part of API Key.', format: 'password' }),
  },
  { description: 'API credentials, as a form body.' },
);

const LOGIN_DESCRIPTION =
  'Present API credentials as an `application/x-www-form-urlencoded` body (`client_id`, `client_secret`) ' +
  'to obtain an access token; send it as `Authorization: Bearer <token>` afterwards. Wrong or disabled ' +
  'credentials answer 404. Repeated failures for one address or client_id answer 429 for a while (the login guard).';

/** Response headers, described once under `components.headers` and referenced from every response. */
const HEADERS = {
  'x-request-id': { description: 'Id of this request in the service log (a well-formed `x-request-id` sent by the client is kept).', schema: { type: 'string' } },
  'x-ratelimit-limit': { description: 'Requests allowed per window for this caller (absent when the per-caller limit is off).', schema: { type: 'integer' } },
  'x-ratelimit-remaining': { description: 'Requests left in the current window.', schema: { type: 'integer' } },
  'x-ratelimit-reset': { description: 'Seconds until the current window ends (a delay, not a timestamp).', schema: { type: 'integer' } },
  'retry-after': { description: 'Seconds to wait before trying again.', schema: { type: 'integer' } },
};
const RATE_LIMIT_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];

export function openApiOptions(config: Config) {
  return {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'external-oauth-apps: Looker API 4.0 compatible External OAuth Applications',
        version: '4.0.26.12',
        description:
          'Looker API 4.0 compatible registry of External OAuth Applications and vault of per-user tokens. ' +
          'Errors are Looker\'s bodies; see `/docs/errors`. Operations without a lock need no token.',
      },
      // Paths carry their /api/4.0 prefix (and /versions sits at the root), so the server is the bare
      // base: the public URL when configured, else the host that served this document.
      servers: [{ url: config.publicUrl ?? '/' }],
      components: {
        securitySchemes: {
          [BEARER]: {
            type: 'http' as const,
            scheme: 'bearer',
            description: 'The access_token from login. `Authorization: token <access_token>` (Looker\'s documented form) is accepted too.',
          },
        },
      },
    },
    transform: documentRoute,
    transformObject: (document: { openapiObject?: unknown; swaggerObject?: unknown }) =>
      completeDocument((document.openapiObject ?? document.swaggerObject) as Record<string, unknown>) as never,
    refResolver: { buildLocalReference: (json: { $id?: unknown }, _base: unknown, _frag: unknown, i: number) => String(json.$id ?? `def-${i}`) },
  };
}

/** Per route: the security its `config.access` implies; login's form body instead of its query string. */
function documentRoute({ schema, url, route }: { schema: FastifySchema; url: string; route: RouteOptions }) {
  if (!schema || schema.hide) return { schema, url };
  const access = (route.config as { access?: string } | undefined)?.access ?? 'admin';
  const documented: FastifySchema & Record<string, unknown> = { ...schema, security: access === 'public' ? [] : [{ [BEARER]: [] }] };
  if (schema.operationId === 'login') {
    // The query string is still accepted (Looker does), but credentials there end up in access logs:
    // the document names only the body.
    delete documented.querystring;
    documented.body = LoginForm;
    documented.consumes = ['application/x-www-form-urlencoded'];
    documented.description = LOGIN_DESCRIPTION;
  }
  return { schema: documented, url };
}

type Operation = { operationId?: string; security?: unknown[]; responses?: Record<string, { description?: string; headers?: Record<string, unknown> }> };

/** Success descriptions, and the headers every response carries. */
function completeDocument(document: Record<string, unknown>): Record<string, unknown> {
  const components = (document.components ??= {}) as Record<string, unknown>;
  components.headers = HEADERS;
  const ref = (name: string) => ({ $ref: `#/components/headers/${name}` });
  for (const methods of Object.values((document.paths ?? {}) as Record<string, Record<string, Operation>>)) {
    for (const operation of Object.values(methods)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (status.startsWith('2') && (!response.description || response.description === 'Default Response')) {
          response.description = SUCCESS_DESCRIPTIONS[operation.operationId ?? ''] ?? response.description;
        }
        // Every documented operation counts against the per-caller limit (only health probes do not),
        // except a request refused with 401, which ends before it is counted.
        const names = ['x-request-id', ...(status === '401' ? [] : RATE_LIMIT_HEADERS), ...(status === '429' ? ['retry-after'] : [])];
        response.headers = { ...response.headers, ...Object.fromEntries(names.map((name) => [name, ref(name)])) };
      }
    }
  }
  return document;
}
