import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { callerOf } from '../../http/auth.ts';
import { requestContext } from '../../http/request-context.ts';
import { cookieHeader, sessionCookieName, sessionToken } from '../../http/session-cookie.ts';
import { html } from '../html.ts';
import { layout, notice, pageContext, redirect, sendPage } from '../layout.ts';
import { clearSignInCookie, signInCsrf } from '../csrf.ts';
import { csrfField, formBody, text, textField } from '../forms.ts';
import { consoleRoute } from '../routes.ts';

/**
 * Sign-in with API credentials, sign-out, and the console's front door. Signing in is an API login
 * (`sessions.login`, the same scrypt check and the same 404-for-everything), under the same login guard
 * (`config.loginGuard`), and its access token becomes the session cookie: the console session expires,
 * ends and is revoked exactly like an API token.
 */
export default async function signInPages(app: FastifyInstance) {
  app.get('/login', consoleRoute('public'), async (request, reply) => {
    // Already signed in (a live session, not just a cookie): nothing to do here.
    const token = sessionToken(request);
    if (token !== null && (await app.services.sessions.authenticate(token))) return redirect(reply, '/console');
    return signInPage(request, reply, { status: 200, clientId: '', problem: null });
  });

  app.post(
    '/login',
    consoleRoute('public', { loginGuard: true, consoleSignIn: true }),
    async (request, reply) => {
      const body = formBody(request);
      const clientId = text(body, 'client_id');
      const secret = text(body, 'client_secret');
      const token = clientId && secret && clientId.length <= 1024 && secret.length <= 1024 ? await app.services.sessions.login(requestContext(request), clientId, secret) : null;
      if (!token) {
        // One message for every failure, as the API's 404: nothing says whether the client_id exists.
        return signInPage(request, reply, { status: 401, clientId, problem: 'These API credentials were not accepted. Check the client ID and secret.' });
      }
      reply.header('set-cookie', [
        cookieHeader(request, sessionCookieName(request), token.access_token, { maxAgeS: token.expires_in }),
        clearSignInCookie(request),
      ]);
      return redirect(reply, '/console');
    },
  );

  app.post('/logout', consoleRoute('user'), async (request, reply) => {
    await app.services.sessions.logout(requestContext(request), callerOf(request));
    reply.header('set-cookie', cookieHeader(request, sessionCookieName(request), '', { maxAgeS: 0 }));
    return redirect(reply, '/console/login?done=signed-out');
  });

  app.get('/', consoleRoute('user'), async (request, reply) =>
    redirect(reply, callerOf(request).isAdmin ? '/console/applications' : '/console/connections'),
  );
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The console's sign-in form: its CSRF token is bound to a pre-session cookie (csrf.ts). */
    consoleSignIn?: boolean;
  }
}

export async function signInPage(request: FastifyRequest, reply: FastifyReply, state: { status: number; clientId: string; problem: string | null }) {
  const { token, setCookie } = signInCsrf(request);
  if (setCookie) reply.header('set-cookie', setCookie);
  const ctx = { ...(await pageContext(request)), caller: null };
  const body = html`
${state.problem ? html`<div class="error-summary" role="alert" id="error-summary"><h2>Not signed in</h2><p>${state.problem}</p></div>` : null}
<p>Sign in with API credentials (a client ID and secret) of your user. An admin creates them on the Users page.</p>
<form method="post" action="/console/login" class="stack">
${csrfField(token)}
${textField({ name: 'client_id', label: 'Client ID', value: state.clientId, required: true, autocomplete: 'username', maxlength: 1024 })}
${textField({ name: 'client_secret', label: 'Client secret', type: 'password', required: true, autocomplete: 'current-password', maxlength: 1024 })}
<button type="submit">Sign in</button>
</form>`;
  return sendPage(reply, layout(ctx, { title: 'Sign in', body, notice: notice(request.query, { 'signed-out': 'You are signed out.' }) }), state.status);
}
