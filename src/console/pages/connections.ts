import type { FastifyInstance } from 'fastify';
import { callerOf } from '../../http/auth.ts';
import type { ExternalOauthApplicationView } from '../../services/external-oauth-applications.ts';
import type { UserStateSummary } from '../../store/user-states-repository.ts';
import { html, type Html } from '../html.ts';
import { formatTime, layout, pageContext, sendPage, table, type PageContext } from '../layout.ts';
import { consoleRoute } from '../routes.ts';

/**
 * Every user: "My connections", each application with what is stored for this user. The page reads only
 * presence and expiry times from the vault (`summariesForUser`), never a token.
 *
 * Extension point for the OAuth broker: a `ConnectionDescriber` turns (application, stored state) into the
 * status shown and the buttons beside it. Today's describer knows only the stored tokens; the broker's
 * module passes its own to `connectionsPages` (statuses such as connected / expires soon / needs
 * reconnecting, and Connect, Reconnect and Disconnect forms posting to routes it registers under
 * /console/connections/…), with `ctx.csrf` in each form.
 */
export interface ConnectionView {
  status: string;
  detail: string | null;
  actions: Html | null;
}

export type ConnectionDescriber = (ctx: PageContext, application: ExternalOauthApplicationView, stored: UserStateSummary | null, now: Date) => ConnectionView;

const SOON_MS = 10 * 60 * 1000;

export const describeStoredTokens: ConnectionDescriber = (_ctx, _application, stored, now) => {
  if (!stored) return { status: 'Not connected', detail: null, actions: null };
  const left = Date.parse(stored.access_token_expires_at) - now.getTime();
  const refresh = stored.has_refresh_token ? 'A refresh token is stored.' : 'No refresh token is stored.';
  const until = `Access token valid until ${formatTime(stored.access_token_expires_at)}.`;
  if (left <= 0) {
    return { status: stored.has_refresh_token ? 'Access token expired' : 'Expired', detail: `${refresh} Updated ${formatTime(stored.updated_at)}.`, actions: null };
  }
  return { status: left < SOON_MS && !stored.has_refresh_token ? 'Expires soon' : 'Tokens stored', detail: `${until} ${refresh}`, actions: null };
};

export function connectionsPages(describe: ConnectionDescriber) {
  return async function connections(app: FastifyInstance) {
    app.get('/connections', consoleRoute('user'), async (request, reply) => {
      const caller = callerOf(request);
      const [summaries, ctx] = await Promise.all([app.services.userStates.summariesForUser(caller.userId), pageContext(request)]);
      const byApplication = new Map(summaries.map((s) => [s.oauth_application_id, s]));
      const now = new Date();
      const rows: Html[] = [];
      // Every application is listed (flat memory: streamed a page at a time), so a user sees what they can connect to.
      for await (const application of await app.services.externalOauthApplications.stream()) {
        const view = describe(ctx, application, byApplication.get(application.id) ?? null, now);
        rows.push(html`<tr><td>${application.name}</td><td>${application.dialect_name ?? ''}</td>
<td><strong>${view.status}</strong>${view.detail ? html`<br><span class="detail">${view.detail}</span>` : null}</td>
<td class="actions">${view.actions}</td></tr>`);
      }
      const head = html`<tr><th scope="col">Application</th><th scope="col">Dialect</th><th scope="col">Status</th><th scope="col">Actions</th></tr>`;
      const body = html`<p>The external systems this service can reach for you, and whether it holds your tokens for each.</p>
${table('My connections', head, rows, 'No applications have been set up yet. An admin adds them.')}`;
      return sendPage(reply, layout(ctx, { title: 'My connections', body }));
    });
  };
}

export default connectionsPages(describeStoredTokens);
