import type { CredentialsApi3 } from '../../../store/credentials-repository.ts';
import type { Role, User } from '../../../store/users-repository.ts';
import { html, segment, type Html } from '../../html.ts';
import { displayName, formatTime, table, type PageContext } from '../../layout.ts';
import { checkboxField, csrfField, errorSummary, noErrors, text, textField, type FieldErrors, type FormBody } from '../../forms.ts';
import { USERS, userPath } from './list.ts';
import { detailFields, LABELS, roleFields } from './form.ts';

/** A user's page (details, roles, API credentials), its deletion, and the one page that shows a new secret. */

export interface UserPageState {
  user: User;
  values: FormBody;
  detailErrors?: FieldErrors;
  roleErrors?: FieldErrors;
  credentialErrors?: FieldErrors;
}

export function userView(ctx: PageContext, state: UserPageState, roles: Role[], credentials: CredentialsApi3[], self: boolean): Html {
  const { user } = state;
  const detailErrors = state.detailErrors ?? noErrors();
  const roleErrors = state.roleErrors ?? noErrors();
  const credentialErrors = state.credentialErrors ?? noErrors();
  return html`<section aria-labelledby="details-heading">
<h2 id="details-heading">Details</h2>
${errorSummary(detailErrors, LABELS)}
<form method="post" action="${userPath(user.id)}" class="stack" novalidate>
${csrfField(ctx.csrf)}
${detailFields(state.values, detailErrors)}
${checkboxField({ name: 'is_disabled', label: 'Disabled: cannot sign in; their sessions end', checked: text(state.values, 'is_disabled') === 'true' }, detailErrors)}
<div class="actions"><button type="submit">Save details</button></div>
</form>
</section>
<section aria-labelledby="roles-heading">
<h2 id="roles-heading">Roles</h2>
<form method="post" action="${userPath(user.id)}/roles" class="stack">
${csrfField(ctx.csrf)}
${roleFields(roles, user.role_ids, roleErrors)}
<div class="actions"><button type="submit">Save roles</button></div>
</form>
</section>
<section aria-labelledby="credentials-heading">
<h2 id="credentials-heading">API credentials</h2>
${credentialsTable(ctx, user, credentials)}
<form method="post" action="${userPath(user.id)}/credentials" class="stack">
${csrfField(ctx.csrf)}
${textField({ name: 'purpose', label: LABELS.purpose, maxlength: 255, hint: 'Optional: what these credentials are for, such as "CI pipeline".' }, credentialErrors)}
<div class="actions"><button type="submit">Create API credentials</button></div>
</form>
</section>
${self ? null : html`<section aria-labelledby="danger-heading"><h2 id="danger-heading">Delete</h2><p><a class="button danger" href="${userPath(user.id)}/delete">Delete this user</a></p></section>`}
<p><a href="${USERS}">Back to users</a></p>`;
}

function credentialsTable(ctx: PageContext, user: User, credentials: CredentialsApi3[]): Html {
  const head = html`<tr><th scope="col">Client ID</th><th scope="col">Purpose</th><th scope="col">Created</th><th scope="col">Status</th><th scope="col">Actions</th></tr>`;
  const rows = credentials.map((c) => {
    const base = `${userPath(user.id)}/credentials/${segment(c.id)}`;
    return html`<tr>
<td><code>${c.client_id}</code></td>
<td>${c.purpose ?? ''}</td>
<td>${formatTime(c.created_at)}</td>
<td>${c.is_disabled ? 'Disabled' : 'Active'}</td>
<td class="actions">
<form method="post" action="${base}">${csrfField(ctx.csrf)}<input type="hidden" name="is_disabled" value="${c.is_disabled ? 'false' : 'true'}">
<button type="submit" class="secondary">${c.is_disabled ? 'Enable' : 'Disable'}<span class="visually-hidden"> credentials ${c.client_id}</span></button></form>
<form method="post" action="${base}/delete">${csrfField(ctx.csrf)}
<button type="submit" class="danger">Delete<span class="visually-hidden"> credentials ${c.client_id}</span></button></form>
</td></tr>`;
  });
  return table('API credentials', head, rows, 'No API credentials.');
}

export function deleteView(ctx: PageContext, user: User): Html {
  return html`<p>You are about to delete the user <strong>${displayName(user)}</strong>. Their API credentials, sessions and stored tokens go with them. This cannot be undone.</p>
<form method="post" action="${userPath(user.id)}/delete" class="actions">
${csrfField(ctx.csrf)}
<button type="submit" class="danger">Delete user</button>
<a href="${userPath(user.id)}">Cancel</a>
</form>`;
}

/** The new secret, shown on this page only (its copy buttons are console.js's). */
export function newCredentialsView(user: User, created: { client_id: string; client_secret: string }): Html {
  return html`<p class="warning">Copy the secret now: it is shown only on this page and cannot be shown again.</p>
<dl class="secret">
<dt>User</dt><dd>${displayName(user)}</dd>
<dt>Client ID</dt><dd><code id="new-client-id">${created.client_id}</code>
<button type="button" class="copy" data-copy="new-client-id" data-copied="Client ID copied to the clipboard." hidden>Copy client ID</button></dd>
<dt>Client secret</dt><dd><code id="new-client-secret">${created.client_secret}</code>
<button type="button" class="copy" data-copy="new-client-secret" data-copied="Client secret copied to the clipboard." hidden>Copy secret</button></dd>
</dl>
<p class="copy-status" role="status" id="copy-status"></p>
<p><a href="${userPath(user.id)}">Done: back to ${displayName(user)}</a></p>`;
}
