import type { CheckResult } from '../../../oauth/check.ts';
import type { ExternalOauthApplicationView } from '../../../services/external-oauth-applications.ts';
import type { UserStateStatus } from '../../../services/user-state-status.ts';
import { html, segment, type Html } from '../../html.ts';
import { formatTime, pager, table, type PageContext } from '../../layout.ts';
import { csrfField } from '../../forms.ts';
import { APPLICATIONS, appPath } from './list.ts';

/** The pages about one application beside its form: the credential check, users' connections, deletion. */

const VERDICTS: Record<CheckResult['client_authentication'], string> = {
  ok: 'OK: the provider accepts the client ID and secret.',
  rejected: 'Rejected: the provider refuses the client ID or secret.',
  unreachable: 'Unreachable: the provider could not be reached.',
  inconclusive: 'Inconclusive: the provider did not say whether it accepts them.',
};

const backTo = (a: ExternalOauthApplicationView) => html`<p><a href="${appPath(a.client_id)}/edit">Back to ${a.name}</a></p>`;

export function checkView(a: ExternalOauthApplicationView, result: CheckResult): Html {
  return html`<p class="verdict verdict-${result.client_authentication}" role="status"><strong>${VERDICTS[result.client_authentication]}</strong></p>
${result.detail ? html`<p class="detail">${result.detail}</p>` : null}
${backTo(a)}`;
}

const STATUS_WORDS: Record<UserStateStatus['status'], string> = { active: 'Active', expired: 'Expired (refreshable)', needs_reauth: 'Needs reconnecting' };

export function userStatesView(ctx: PageContext, a: ExternalOauthApplicationView, statuses: UserStateStatus[], page: number, hasNext: boolean): Html {
  const head = html`<tr><th scope="col">User</th><th scope="col">Status</th><th scope="col">Access token expires</th><th scope="col">Refresh token</th><th scope="col">Last error</th><th scope="col">Actions</th></tr>`;
  const rows = statuses.map(
    (s) => html`<tr>
<td><a href="/console/users/${segment(s.user_id)}">User ${s.user_id}</a></td>
<td><strong>${STATUS_WORDS[s.status]}</strong></td>
<td>${formatTime(s.access_token_expires_at)}</td>
<td>${s.has_refresh_token ? (s.refresh_token_expires_at ? `until ${formatTime(s.refresh_token_expires_at)}` : 'held') : 'none'}</td>
<td>${s.last_error ? html`<code>${s.last_error}</code>` : ''}</td>
<td class="actions"><form method="post" action="${appPath(a.client_id)}/connections/${segment(s.user_id)}/revoke">
${csrfField(ctx.csrf)}
<button type="submit" class="danger">Revoke<span class="visually-hidden"> user ${s.user_id}</span></button>
</form></td>
</tr>`,
  );
  return html`<p>Users whose tokens this service holds for <strong>${a.name}</strong> (client ID <code>${a.client_id}</code>). Revoking deletes them here and revokes them at the provider when it can.</p>
${table(`Connections to ${a.name}`, head, rows, 'No user is connected to this application.')}
${pager(`${appPath(a.client_id)}/connections`, {}, page, hasNext)}
${backTo(a)}`;
}

export function deleteView(ctx: PageContext, a: ExternalOauthApplicationView, holders: number): Html {
  const tokens =
    holders === 0
      ? 'No user has stored tokens for it.'
      : `${holders} ${holders === 1 ? "user's" : "users'"} stored tokens for it will be deleted with it; ${holders === 1 ? 'that user' : 'those users'} will have to connect again.`;
  return html`<p>You are about to delete the application <strong>${a.name}</strong> (client ID <code>${a.client_id}</code>).</p>
<p class="warning">${tokens} This cannot be undone.</p>
<form method="post" action="${appPath(a.client_id)}/delete" class="actions">
${csrfField(ctx.csrf)}
<button type="submit" class="danger">Delete application</button>
<a href="${APPLICATIONS}">Cancel</a>
</form>`;
}
