import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { callerOf } from '../../http/auth.ts';
import { requestContext } from '../../http/request-context.ts';
import { ApiError } from '../../errors.ts';
import { presetFor } from '../../oauth/presets.ts';
import { ProviderSettingsError } from '../../oauth/provider.ts';
import { ProviderError } from '../../oauth/provider-errors.ts';
import type { ExternalOauthApplicationView } from '../../services/external-oauth-applications.ts';
import type { UserStateStatus } from '../../services/user-state-status.ts';
import { html, segment, type Html } from '../html.ts';
import { formatTime, layout, notice, pageContext, redirect, sendPage, table, type PageContext } from '../layout.ts';
import { csrfField } from '../forms.ts';
import { consoleRoute } from '../routes.ts';
import { allowFormRedirects } from '../csp.ts';

/**
 * Every user: "My connections", each application with the status of this user's connection to it (the
 * broker's user-state status: presence, expiry, needs_reauth and its reason; never a token), and the buttons
 * to connect, reconnect and disconnect. Connecting is the broker's own flow (services/oauth-connect.ts): a
 * POST here starts it with return_to = this page and sends the browser on to the provider.
 */

/** What a row shows of one application's connection. */
interface ConnectionView {
  status: string;
  detail: string | null;
  actions: Html | null;
}

const SOON_MS = 10 * 60 * 1000;

const PAGE = '/console/connections';
const connectionPath = (clientId: string) => `${PAGE}/${segment(clientId)}`;

const NOTICES = { connected: 'Connected.', disconnected: 'Disconnected: the service no longer holds your tokens for it.' };

/** Whether users can connect to the application here: a preset, an issuer, or both endpoints. */
function hasProvider(a: ExternalOauthApplicationView): boolean {
  return presetFor(a.dialect_name) !== null || a.issuer !== null || (a.authorization_endpoint !== null && a.token_endpoint !== null);
}

const REAUTH_REASONS: Record<string, string> = {
  invalid_grant: 'The provider no longer accepts your refresh token.',
  no_refresh_token: 'Your access token has expired and the provider gave no refresh token.',
  refresh_token_expired: 'Your refresh token has expired.',
  refresh_interrupted: 'A refresh was interrupted.',
};

function button(ctx: PageContext, a: ExternalOauthApplicationView, action: 'connect' | 'disconnect', label: string, danger = false): Html {
  return html`<form method="post" action="${connectionPath(a.client_id)}/${action}">
${csrfField(ctx.csrf)}
<button type="submit"${danger ? html` class="danger"` : null}>${label}<span class="visually-hidden"> ${a.name}</span></button>
</form>`;
}

function describeConnection(ctx: PageContext, a: ExternalOauthApplicationView, state: UserStateStatus | null, now: Date): ConnectionView {
  const connectable = hasProvider(a);
  if (!state) {
    return {
      status: 'Not connected',
      detail: connectable ? null : 'Not set up for connecting yet: an admin has to give it a provider.',
      actions: connectable ? button(ctx, a, 'connect', 'Connect') : null,
    };
  }
  const disconnect = button(ctx, a, 'disconnect', 'Disconnect', true);
  const reconnect = connectable ? button(ctx, a, 'connect', 'Reconnect') : null;
  if (state.status === 'needs_reauth') {
    const reason = state.last_error ? (REAUTH_REASONS[state.last_error] ?? `Last error: ${state.last_error}.`) : null;
    return { status: 'Needs reconnecting', detail: reason, actions: html`${reconnect}${disconnect}` };
  }
  const until = `Access token valid until ${formatTime(state.access_token_expires_at)}.`;
  const refreshes = state.has_refresh_token ? `Renewed automatically${state.refresh_token_expires_at ? ` until ${formatTime(state.refresh_token_expires_at)}` : ''}.` : 'Not renewed automatically.';
  // What ends the connection: the refresh token's end, or the access token's when there is no refresh token.
  const end = state.has_refresh_token ? state.refresh_token_expires_at : state.access_token_expires_at;
  const soon = end !== null && Date.parse(end) - now.getTime() < SOON_MS;
  return { status: soon ? 'Expires soon' : 'Connected', detail: `${until} ${refreshes}`, actions: html`${soon ? reconnect : null}${disconnect}` };
}

export default async function connectionsPages(app: FastifyInstance) {
  const tokens = app.services.externalOauthTokens;

  /**
   * Where a Connect form's 303 leads: the origin of the application's authorization endpoint, from the same
   * resolver the flow uses (discovery documents are cached, bounded by the provider timeout). An
   * application whose provider cannot be resolved gets none: its Connect answers with the problem instead.
   */
  async function authorizationOrigin(application: ExternalOauthApplicationView): Promise<string | null> {
    try {
      return new URL((await app.services.providers.resolve(application)).authorizationEndpoint).origin;
    } catch (error) {
      if (error instanceof ProviderSettingsError || error instanceof ProviderError) return null;
      throw error;
    }
  }

  async function page(request: FastifyRequest, reply: FastifyReply, problem: string | null = null) {
    const caller = callerOf(request);
    const [summaries, ctx] = await Promise.all([app.services.userStates.summariesForUser(caller.userId), pageContext(request)]);
    const held = new Set(summaries.map((s) => s.oauth_application_id));
    const now = new Date();
    const rows: Html[] = [];
    const connectOrigins: Array<Promise<string | null>> = [];
    // Every application is listed (flat memory: streamed a page at a time), so a user sees what they can connect to.
    for await (const application of await app.services.externalOauthApplications.stream()) {
      // The status (with needs_reauth and its reason) only where a state exists: the others are not connected.
      const state = held.has(application.id) ? await tokens.status(caller, application.client_id, caller.userId).catch(notFoundAsNull) : null;
      const view = describeConnection(ctx, application, state, now);
      if (view.actions !== null && hasProvider(application)) connectOrigins.push(authorizationOrigin(application));
      rows.push(html`<tr><td>${application.name}</td><td>${application.dialect_name ?? ''}</td>
<td><strong>${view.status}</strong>${view.detail ? html`<br><span class="detail">${view.detail}</span>` : null}</td>
<td class="actions">${view.actions}</td></tr>`);
    }
    const head = html`<tr><th scope="col">Application</th><th scope="col">Dialect</th><th scope="col">Status</th><th scope="col">Actions</th></tr>`;
    const body = html`${problem ? html`<div class="error-summary" role="alert" tabindex="-1" id="error-summary"><h2>Could not connect</h2><p>${problem}</p></div>` : null}
<p>The external systems this service can reach for you, and whether it holds your tokens for each.</p>
${table('My connections', head, rows, 'No applications have been set up yet. An admin adds them.')}`;
    allowFormRedirects(reply, (await Promise.all(connectOrigins)).filter((o) => o !== null));
    return sendPage(reply, layout(ctx, { title: 'My connections', notice: notice(request.query, NOTICES), body }), problem ? 422 : 200);
  }

  app.get('/connections', consoleRoute('user'), async (request, reply) => page(request, reply));

  /** Starts the broker's flow for the signed-in user and sends the browser to the provider (303). */
  app.post('/connections/:client_id/connect', consoleRoute('member'), async (request, reply) => {
    try {
      const started = await app.services.oauthConnect.start(callerOf(request), clientIdOf(request), { return_to: `${PAGE}?done=connected` });
      return redirect(reply, started.authorization_url);
    } catch (error) {
      // Set-up problems (no public URL, no account URL) are the admin's to fix: said in words, on this page.
      if (error instanceof ApiError && error.code === 'validation_failed') return page(request, reply, error.problems.map((p) => p.message).join(' '));
      throw error;
    }
  });

  /** The user's own DELETE of their state: gone here, revoked at the provider when it can be. */
  app.post('/connections/:client_id/disconnect', consoleRoute('member'), async (request, reply) => {
    const caller = callerOf(request);
    await tokens.disconnect(requestContext(request), caller, clientIdOf(request), caller.userId);
    return redirect(reply, `${PAGE}?done=disconnected`);
  });
}

const clientIdOf = (request: FastifyRequest) => (request.params as { client_id: string }).client_id;

function notFoundAsNull(error: unknown): null {
  if (error instanceof ApiError && error.code === 'not_found') return null;
  throw error;
}
