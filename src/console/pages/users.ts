import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { callerOf } from '../../http/auth.ts';
import { ApiError } from '../../errors.ts';
import { CredentialsApi3Body, UserBody } from '../../schemas/users.ts';
import type { Role, User } from '../../store/users-repository.ts';
import type { CredentialsApi3 } from '../../store/credentials-repository.ts';
import { html, segment, type Html } from '../html.ts';
import { formatTime, layout, notice, pageContext, pageNumber, pager, redirect, sendPage, table, type PageContext } from '../layout.ts';
import {
  checkboxField,
  csrfField,
  errorSummary,
  fieldErrors,
  formBody,
  noErrors,
  orNull,
  schemaProblems,
  text,
  textField,
  toFieldErrors,
  values,
  type FieldErrors,
  type FormBody,
} from '../forms.ts';
import { consoleRoute } from '../routes.ts';

/** Admins: users, their roles and their API credentials (a new secret is shown once, on its own page). */

const PAGE_SIZE = 25;

const LABELS: Record<string, string> = {
  first_name: 'First name',
  last_name: 'Last name',
  email: 'Email',
  locale: 'Locale',
  is_disabled: 'Disabled',
  role_ids: 'Roles',
  purpose: 'Purpose',
};

const NOTICES = {
  created: 'User created.',
  updated: 'User saved.',
  roles: 'Roles saved.',
  deleted: 'User deleted.',
  'credentials-disabled': 'API credentials disabled: their sessions have ended.',
  'credentials-enabled': 'API credentials enabled.',
  'credentials-deleted': 'API credentials deleted.',
};

const userPath = (id: string) => `/console/users/${segment(id)}`;

function displayName(user: User): string {
  return [user.first_name, user.last_name].filter(Boolean).join(' ') || user.email || `User ${user.id}`;
}

export default async function usersPages(app: FastifyInstance) {
  const users = app.services.users;

  app.get('/users', consoleRoute('admin'), async (request, reply) => {
    const page = pageNumber((request.query as { page?: unknown }).page);
    const [list, roles] = await Promise.all([users.list({ limit: PAGE_SIZE + 1, offset: (page - 1) * PAGE_SIZE }), users.roles()]);
    const ctx = await pageContext(request);
    const body = listView(list.slice(0, PAGE_SIZE), roles, page, list.length > PAGE_SIZE);
    return sendPage(reply, layout(ctx, { title: 'Users', notice: notice(request.query, NOTICES), body }));
  });

  app.get('/users/new', consoleRoute('admin'), async (request, reply) =>
    newUserPage(request, reply, { first_name: '', last_name: '', email: '', role_ids: ['2'] }, noErrors()),
  );

  app.post('/users', consoleRoute('admin'), async (request, reply) => {
    const form = formBody(request);
    const body = userBody(form);
    const roleIds = values(form, 'role_ids');
    // Roles are checked before the user is created, so a bad role leaves no user without roles behind.
    const known = (await users.roles()).map((r) => r.id);
    const problems = [
      ...schemaProblems(UserBody, body),
      ...roleIds.filter((id) => !known.includes(id)).map((id) => ({ field: 'role_ids', code: 'invalid' as const, message: `Role ${id} does not exist` })),
    ];
    if (problems.length > 0) return newUserPage(request, reply, form, toFieldErrors(problems), 422);
    let user: User;
    try {
      user = await users.create(body);
    } catch (error) {
      return newUserPage(request, reply, form, fieldErrors(error, ['email']), 422);
    }
    if (roleIds.length > 0) await users.setUserRoles(callerOf(request).userId, user.id, roleIds);
    return redirect(reply, `${userPath(user.id)}?done=created`);
  });

  app.get('/users/:user_id', consoleRoute('admin'), async (request, reply) => {
    const user = await users.get(userIdOf(request));
    return userPage(request, reply, { user, values: userValues(user) });
  });

  app.post('/users/:user_id', consoleRoute('admin'), async (request, reply) => {
    const user = await users.get(userIdOf(request));
    const form = formBody(request);
    const body = { ...userBody(form), is_disabled: text(form, 'is_disabled') === 'true' };
    const problems = schemaProblems(UserBody, body);
    if (problems.length > 0) return userPage(request, reply, { user, values: form, detailErrors: toFieldErrors(problems) }, 422);
    try {
      await users.update(callerOf(request).userId, user.id, body);
    } catch (error) {
      const errors = forbiddenOn(error, 'is_disabled') ?? fieldErrors(error, ['email']);
      return userPage(request, reply, { user, values: form, detailErrors: errors }, 422);
    }
    return redirect(reply, `${userPath(user.id)}?done=updated`);
  });

  app.post('/users/:user_id/roles', consoleRoute('admin'), async (request, reply) => {
    const user = await users.get(userIdOf(request));
    try {
      await users.setUserRoles(callerOf(request).userId, user.id, values(formBody(request), 'role_ids'));
    } catch (error) {
      const errors = forbiddenOn(error, 'role_ids') ?? fieldErrors(error, ['role_ids']);
      return userPage(request, reply, { user, values: userValues(user), roleErrors: errors }, 422);
    }
    return redirect(reply, `${userPath(user.id)}?done=roles`);
  });

  app.get('/users/:user_id/delete', consoleRoute('admin'), async (request, reply) => {
    const user = await users.get(userIdOf(request));
    const ctx = await pageContext(request);
    const body = html`<p>You are about to delete the user <strong>${displayName(user)}</strong>. Their API credentials, sessions and stored tokens go with them. This cannot be undone.</p>
<form method="post" action="${userPath(user.id)}/delete" class="actions">
${csrfField(ctx.csrf)}
<button type="submit" class="danger">Delete user</button>
<a href="${userPath(user.id)}">Cancel</a>
</form>`;
    return sendPage(reply, layout(ctx, { title: `Delete ${displayName(user)}?`, body }));
  });

  app.post('/users/:user_id/delete', consoleRoute('admin'), async (request, reply) => {
    await users.delete(callerOf(request).userId, userIdOf(request));
    return redirect(reply, '/console/users?done=deleted');
  });

  /** The one response that ever carries the new secret: a page, never a redirect (no secret in a URL), never cached. */
  app.post('/users/:user_id/credentials', consoleRoute('admin'), async (request, reply) => {
    const user = await users.get(userIdOf(request));
    const purpose = orNull(text(formBody(request), 'purpose'));
    const problems = schemaProblems(CredentialsApi3Body, { purpose });
    if (problems.length > 0) return userPage(request, reply, { user, values: userValues(user), credentialErrors: toFieldErrors(problems) }, 422);
    const created = await users.createCredentials(user.id, purpose);
    const ctx = await pageContext(request);
    const body = html`<p class="warning">Copy the secret now: it is shown only on this page and cannot be shown again.</p>
<dl class="secret">
<dt>User</dt><dd>${displayName(user)}</dd>
<dt>Client ID</dt><dd><code id="new-client-id">${created.client_id}</code>
<button type="button" class="copy" data-copy="new-client-id" data-copied="Client ID copied to the clipboard." hidden>Copy client ID</button></dd>
<dt>Client secret</dt><dd><code id="new-client-secret">${created.client_secret}</code>
<button type="button" class="copy" data-copy="new-client-secret" data-copied="Client secret copied to the clipboard." hidden>Copy secret</button></dd>
</dl>
<p class="copy-status" role="status" id="copy-status"></p>
<p><a href="${userPath(user.id)}">Done: back to ${displayName(user)}</a></p>`;
    return sendPage(reply, layout(ctx, { title: 'New API credentials', body }));
  });

  app.post('/users/:user_id/credentials/:credentials_id', consoleRoute('admin'), async (request, reply) => {
    const { user_id, credentials_id } = request.params as { user_id: string; credentials_id: string };
    const disable = text(formBody(request), 'is_disabled') === 'true';
    await users.updateCredentials(user_id, credentials_id, { is_disabled: disable });
    return redirect(reply, `${userPath(user_id)}?done=${disable ? 'credentials-disabled' : 'credentials-enabled'}`);
  });

  app.post('/users/:user_id/credentials/:credentials_id/delete', consoleRoute('admin'), async (request, reply) => {
    const { user_id, credentials_id } = request.params as { user_id: string; credentials_id: string };
    await users.deleteCredentials(user_id, credentials_id);
    return redirect(reply, `${userPath(user_id)}?done=credentials-deleted`);
  });

  async function userPage(request: FastifyRequest, reply: FastifyReply, state: UserPageState, status = 200) {
    const [roles, credentials, ctx] = await Promise.all([users.roles(), users.listCredentials(state.user.id), pageContext(request)]);
    const self = ctx.caller?.userId === state.user.id;
    const body = userView(ctx, state, roles, credentials, self);
    return sendPage(reply, layout(ctx, { title: displayName(state.user), notice: notice(request.query, NOTICES), body }), status);
  }

  async function newUserPage(request: FastifyRequest, reply: FastifyReply, form: FormBody, errors: FieldErrors, status = 200) {
    const [roles, ctx] = await Promise.all([users.roles(), pageContext(request)]);
    const body = html`${errorSummary(errors, LABELS)}
<form method="post" action="/console/users" class="stack" novalidate>
${csrfField(ctx.csrf)}
${detailFields(form, errors)}
${roleFields(roles, values(form, 'role_ids'), errors)}
<div class="actions"><button type="submit">Create user</button> <a href="/console/users">Cancel</a></div>
</form>`;
    return sendPage(reply, layout(ctx, { title: 'New user', body }), status);
  }
}

interface UserPageState {
  user: User;
  values: FormBody;
  detailErrors?: FieldErrors;
  roleErrors?: FieldErrors;
  credentialErrors?: FieldErrors;
}

const userIdOf = (request: FastifyRequest) => (request.params as { user_id: string }).user_id;

function userBody(form: FormBody) {
  return {
    first_name: orNull(text(form, 'first_name')),
    last_name: orNull(text(form, 'last_name')),
    email: orNull(text(form, 'email').trim()),
    locale: orNull(text(form, 'locale').trim()),
  };
}

function userValues(user: User): FormBody {
  return {
    first_name: user.first_name ?? '',
    last_name: user.last_name ?? '',
    email: user.email ?? '',
    locale: user.locale ?? '',
    is_disabled: user.is_disabled ? 'true' : undefined,
    role_ids: user.role_ids,
  };
}

/** A rule the service refuses with 403 (disabling yourself, dropping your own Admin role) belongs to that field. */
function forbiddenOn(error: unknown, field: string): FieldErrors | null {
  return error instanceof ApiError && error.code === 'forbidden' ? toFieldErrors([{ field, code: 'invalid', message: error.message }]) : null;
}

function detailFields(form: FormBody, errors: FieldErrors): Html {
  const v = (name: string) => text(form, name);
  return html`${textField({ name: 'first_name', label: LABELS.first_name, value: v('first_name'), maxlength: 255, autocomplete: 'off' }, errors)}
${textField({ name: 'last_name', label: LABELS.last_name, value: v('last_name'), maxlength: 255, autocomplete: 'off' }, errors)}
${textField({ name: 'email', label: LABELS.email, type: 'email', value: v('email'), maxlength: 255, autocomplete: 'off' }, errors)}
${textField({ name: 'locale', label: LABELS.locale, value: v('locale'), maxlength: 16, hint: 'Optional, such as en or de_DE.' }, errors)}`;
}

function roleFields(roles: Role[], checked: string[], errors: FieldErrors): Html {
  return html`<fieldset id="field-role_ids"${errors.has('role_ids') ? html` aria-describedby="error-role_ids"` : null}>
<legend>Roles</legend>
${errors.has('role_ids') ? html`<p class="field-error" id="error-role_ids">${errors.get('role_ids')!.join(' ')}</p>` : null}
${roles.map(
  (r) => html`<div class="checkbox"><input type="checkbox" id="role-${r.id}" name="role_ids" value="${r.id}"${checked.includes(r.id) ? html` checked` : null}>
<label for="role-${r.id}">${r.name}</label></div>`,
)}
</fieldset>`;
}

function listView(list: User[], roles: Role[], page: number, hasNext: boolean): Html {
  const roleName = (id: string) => roles.find((r) => r.id === id)?.name ?? id;
  const head = html`<tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Roles</th><th scope="col">Status</th><th scope="col">Created</th></tr>`;
  const rows = list.map(
    (u) => html`<tr>
<td><a href="${userPath(u.id)}">${displayName(u)}</a></td>
<td>${u.email ?? ''}</td>
<td>${u.role_ids.map(roleName).join(', ') || 'none'}</td>
<td>${u.is_disabled ? 'Disabled' : 'Active'}</td>
<td>${formatTime(u.created_at)}</td>
</tr>`,
  );
  return html`<p class="toolbar"><a class="button" href="/console/users/new">New user</a></p>
${table('Users', head, rows, 'No users.')}
${pager('/console/users', {}, page, hasNext)}`;
}

function userView(ctx: PageContext, state: UserPageState, roles: Role[], credentials: CredentialsApi3[], self: boolean): Html {
  const { user } = state;
  const detailErrors = state.detailErrors ?? noErrors();
  const roleErrors = state.roleErrors ?? noErrors();
  const credentialErrors = state.credentialErrors ?? noErrors();
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
${table('API credentials', head, rows, 'No API credentials.')}
<form method="post" action="${userPath(user.id)}/credentials" class="stack">
${csrfField(ctx.csrf)}
${textField({ name: 'purpose', label: LABELS.purpose, maxlength: 255, hint: 'Optional: what these credentials are for, such as "CI pipeline".' }, credentialErrors)}
<div class="actions"><button type="submit">Create API credentials</button></div>
</form>
</section>
${self ? null : html`<section aria-labelledby="danger-heading"><h2 id="danger-heading">Delete</h2><p><a class="button danger" href="${userPath(user.id)}/delete">Delete this user</a></p></section>`}
<p><a href="/console/users">Back to users</a></p>`;
}
