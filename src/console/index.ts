import fs from 'node:fs';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import { ApiError } from '../errors.ts';
import { toApiError } from '../http/error-handler.ts';
import { cookieHeader, sessionCookieName, sessionToken } from '../http/session-cookie.ts';
import { html } from './html.ts';
import { layout, pageContext, redirect, sendPage } from './layout.ts';
import { checkOrigin, checkToken, CsrfError } from './csrf.ts';
import { consoleRoute } from './routes.ts';
import { contentSecurityPolicy } from './csp.ts';
import signInPages, { signInPage } from './pages/sign-in.ts';
import { CONSOLE_PAGES } from './pages/index.ts';

/**
 * The web console, served by the service at /console: server-rendered HTML from typed view functions
 * (html.ts escapes everything), one stylesheet and one small script, no inline script or style, so the
 * strict policy of csp.ts holds. Pages are clients of the same services as the API (never a repository), with
 * permissions declared on each route exactly as API routes declare them.
 */
export { CONTENT_SECURITY_POLICY } from './csp.ts';

const ASSETS: Record<string, { type: string; body: Buffer }> = {
  'console.css': { type: 'text/css; charset=utf-8', body: fs.readFileSync(new URL('./assets/console.css', import.meta.url)) },
  'console.js': { type: 'text/javascript; charset=utf-8', body: fs.readFileSync(new URL('./assets/console.js', import.meta.url)) },
};

export default async function consolePlugin(app: FastifyInstance) {
  // Console forms post urlencoded bodies; the API stays JSON-only (this parser lives in this context alone).
  await app.register(formbody, { bodyLimit: app.config.http.bodyLimitBytes });

  // onSend, not onRequest: error pages (a 401 thrown by the auth hook before any console hook) get them too.
  // Referrer-Policy same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` on form
  // posts, and the origin check needs the real one.
  app.addHook('onSend', async (_request, reply) => {
    reply
      .header('content-security-policy', contentSecurityPolicy(reply))
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'same-origin')
      .header('cross-origin-opener-policy', 'same-origin');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });

  // Every POST: from this origin, with this session's (or this sign-in form's) token; see csrf.ts.
  app.addHook('preHandler', async (request) => {
    if (request.method !== 'POST') return;
    checkOrigin(request);
    checkToken(request, request.routeOptions.config.consoleSignIn === true);
  });

  app.setErrorHandler(consoleError);
  app.setNotFoundHandler(async (request, reply) => errorPage(request, reply, new ApiError('not_found')));

  app.get('/assets/:name', consoleRoute('public'), async (request, reply) => {
    const { name } = request.params as { name: string };
    // Own keys only: `constructor` or `__proto__` must not find what every object inherits.
    if (!Object.hasOwn(ASSETS, name)) throw new ApiError('not_found');
    const asset = ASSETS[name];
    return reply.type(asset.type).header('cache-control', 'public, max-age=300').send(asset.body);
  });

  await app.register(signInPages);
  for (const page of CONSOLE_PAGES) await app.register(page);
}

/** `/` has nothing of its own: people arriving there want the console. */
export async function rootRedirect(app: FastifyInstance) {
  app.get('/', { schema: { hide: true }, config: { access: 'public' } }, async (_request, reply) => redirect(reply, '/console'));
}

async function consoleError(this: FastifyInstance, error: FastifyError | ApiError, request: FastifyRequest, reply: FastifyReply) {
  const apiError = toApiError(error, request.body);
  if (apiError.code === 'unauthorized') {
    // No session, or one that expired or was revoked: forget the cookie and ask to sign in again.
    if (sessionToken(request) !== null) reply.header('set-cookie', cookieHeader(request, sessionCookieName(request), '', { maxAgeS: 0 }));
    return redirect(reply, '/console/login');
  }
  if (apiError.status >= 500) request.log.error({ err: error, reqId: request.id }, 'console request failed');
  for (const [name, value] of Object.entries(apiError.headers)) reply.header(name, value);
  if (request.routeOptions.config?.consoleSignIn && apiError.code === 'rate_limited') {
    const wait = apiError.headers['retry-after'] ?? '60';
    return signInPage(request, reply, { status: 429, clientId: '', problem: `Too many failed sign-ins. Try again in ${wait} seconds.` });
  }
  return errorPage(request, reply, apiError);
}

const EXPLANATIONS: Partial<Record<ApiError['code'], string>> = {
  not_found: 'This page does not exist, or it is not yours to see.',
  bad_request: 'The request could not be read. Go back and send the form again.',
  payload_too_large: 'The form was too large to accept.',
  rate_limited: 'Too many requests. Wait a moment, then try again.',
  internal: 'Something went wrong on our side. It has been logged.',
  unavailable: 'The service is not available right now. Try again in a moment.',
};

async function errorPage(request: FastifyRequest, reply: FastifyReply, error: ApiError) {
  const ctx = await pageContext(request);
  const detail = error instanceof CsrfError || error.code === 'forbidden' ? error.message : (EXPLANATIONS[error.code] ?? error.message);
  const body = html`<p>${detail}</p>
${error instanceof CsrfError ? html`<p>Reload the page you came from and send the form again.</p>` : null}
${error.status >= 500 ? html`<p>Request id: <code>${request.id}</code></p>` : null}
<p><a href="/console">Back to the console</a></p>`;
  const title = error.status === 404 ? 'Not found' : error.status === 403 ? 'Not allowed' : error.status >= 500 ? 'Something went wrong' : 'That did not work';
  return sendPage(reply, layout(ctx, { title, body }), error.status);
}
