import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, type ValidationProblem } from '../../errors.ts';
import type { CheckResult } from '../../oauth/check.ts';
import { callerOf } from '../../http/auth.ts';
import type { UserStateStatus } from '../../services/external-oauth-tokens.ts';
import { CreateExternalOauthApplicationBody, UpdateExternalOauthApplicationBody } from '../../schemas/external-oauth-applications.ts';
import { applicationRuleProblems, type ExternalOauthApplicationView } from '../../services/external-oauth-applications.ts';
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
  type FieldErrors,
  type FormBody,
} from '../forms.ts';
import { consoleRoute } from '../routes.ts';

/** Admins: list, search and page applications; create, edit (rotate the secret), delete with a confirmation. */

const PAGE_SIZE = 25;

const LABELS: Record<string, string> = {
  name: 'Name',
  client_id: 'Client ID',
  client_secret: 'Client secret',
  tenant_id: 'Tenant ID',
  dialect_name: 'Dialect',
  bi_directional_data_access: 'Bi-directional data access',
  provider_url: 'Provider URL',
  authorization_endpoint: 'Authorization endpoint',
  token_endpoint: 'Token endpoint',
  revocation_endpoint: 'Revocation endpoint',
  issuer: 'Issuer',
  scopes: 'Scopes',
  token_endpoint_auth_method: 'Client authentication at the token endpoint',
};

/** The broker's provider settings (docs/oauth-broker.md), each a text field named after its API field. */
const PROVIDER_FIELDS = ['provider_url', 'authorization_endpoint', 'token_endpoint', 'revocation_endpoint', 'issuer', 'scopes', 'token_endpoint_auth_method'] as const;

const PROVIDER_HINTS: Record<(typeof PROVIDER_FIELDS)[number], string> = {
  provider_url: 'The account URL, e.g. https://acme-xy12345.snowflakecomputing.com: required for snowflake and databricks, whose endpoints follow from it.',
  authorization_endpoint: 'Full URL; leave empty to use the preset of the dialect or the issuer\'s discovery document.',
  token_endpoint: 'Full URL; leave empty to use the preset or discovery.',
  revocation_endpoint: 'Full URL of the RFC 7009 endpoint, if the provider has one.',
  issuer: 'The provider\'s issuer identifier: endpoints not given are read from its discovery document.',
  scopes: 'Separated by spaces; leave empty for the preset of the dialect.',
  token_endpoint_auth_method: 'client_secret_basic (default) or client_secret_post.',
};

/** Presets that need the account URL, named for people. */
const NEEDS_ACCOUNT_URL: Record<string, string> = { snowflake: 'Snowflake', databricks: 'Databricks' };

/** Dialects with a known OAuth set-up; any other lower-case dialect name is accepted too. */
const DIALECTS = ['snowflake', 'databricks', 'bigquery_standard_sql'];

const NOTICES = { created: 'Application created.', updated: 'Application saved.', deleted: 'Application deleted.', rotated: 'Application saved and its client secret rotated.' };

const appPath = (clientId: string) => `/console/applications/${segment(clientId)}`;

export default async function applicationsPages(app: FastifyInstance) {
  const applications = app.services.externalOauthApplications;
  const ruleOptions = { allowInsecureProviders: app.config.oauth.allowInsecureProviders };

  async function find(clientId: string): Promise<ExternalOauthApplicationView> {
    const [found] = await applications.list({ client_id: clientId });
    if (!found) throw new ApiError('not_found');
    return found;
  }

  app.get('/applications', consoleRoute('admin'), async (request, reply) => {
    const query = request.query as { q?: unknown; page?: unknown };
    const q = typeof query.q === 'string' ? query.q.trim().slice(0, 255) : '';
    const page = pageNumber(query.page);
    const { items, hasNext } = await findPage(q, page);
    const ctx = await pageContext(request);
    return sendPage(reply, layout(ctx, { title: 'Applications', notice: notice(request.query, NOTICES), body: listView(q, page, items, hasNext) }));
  });

  /**
   * One page of the list. A search matches part of the name or client ID, in any case: the service offers
   * exact filters only, so the search walks the streamed list (flat memory, one query per 1,000 rows) and
   * stops as soon as it has this page and knows whether another follows.
   */
  async function findPage(q: string, page: number) {
    const skip = (page - 1) * PAGE_SIZE;
    const items: ExternalOauthApplicationView[] = [];
    if (q === '') {
      for await (const a of await applications.stream({ offset: skip, limit: PAGE_SIZE + 1 })) items.push(a);
    } else {
      const needle = q.toLowerCase();
      let matched = 0;
      for await (const a of await applications.stream()) {
        if (!a.name.toLowerCase().includes(needle) && !a.client_id.toLowerCase().includes(needle)) continue;
        matched += 1;
        if (matched > skip) items.push(a);
        if (items.length > PAGE_SIZE) break;
      }
    }
    return { items: items.slice(0, PAGE_SIZE), hasNext: items.length > PAGE_SIZE };
  }

  app.get('/applications/new', consoleRoute('admin'), async (request, reply) => formPage(request, reply, { mode: 'create', values: {}, errors: noErrors() }));

  app.post('/applications', consoleRoute('admin'), async (request, reply) => {
    const form = formBody(request);
    const body = {
      ...given(form, 'name'),
      ...given(form, 'client_id'),
      ...given(form, 'client_secret'),
      tenant_id: orNull(text(form, 'tenant_id')),
      dialect_name: orNull(text(form, 'dialect_name')),
      bi_directional_data_access: text(form, 'bi_directional_data_access') === 'true',
      ...providerValues(form),
    };
    const problems = [...schemaProblems(CreateExternalOauthApplicationBody, body), ...applicationRuleProblems(body, undefined, ruleOptions), ...presetProblems(body)];
    if (problems.length > 0) return formPage(request, reply, { mode: 'create', values: form, errors: toFieldErrors(problems) }, 422);
    try {
      await applications.create(body as CreateExternalOauthApplicationBody);
    } catch (error) {
      return formPage(request, reply, { mode: 'create', values: form, errors: fieldErrors(error, ['client_id', 'name']) }, 422);
    }
    return redirect(reply, '/console/applications?done=created');
  });

  app.get('/applications/:client_id/edit', consoleRoute('admin'), async (request, reply) => {
    const existing = await find(clientIdOf(request));
    return formPage(request, reply, { mode: 'edit', existing, values: valuesOf(existing), errors: noErrors() });
  });

  app.post('/applications/:client_id/edit', consoleRoute('admin'), async (request, reply) => {
    const existing = await find(clientIdOf(request));
    const form = formBody(request);
    // An empty secret field keeps the current secret; a value rotates it.
    const body = {
      ...given(form, 'name'),
      ...given(form, 'client_secret'),
      tenant_id: orNull(text(form, 'tenant_id')),
      dialect_name: orNull(text(form, 'dialect_name')),
      bi_directional_data_access: text(form, 'bi_directional_data_access') === 'true',
      ...providerValues(form),
    };
    const problems = [
      ...schemaProblems(UpdateExternalOauthApplicationBody, body),
      ...applicationRuleProblems(body, existing.client_id, ruleOptions),
      ...presetProblems(body),
    ];
    if (!('name' in body)) problems.push({ field: 'name', code: 'missing_field', message: 'This field is required.' });
    if (problems.length > 0) return formPage(request, reply, { mode: 'edit', existing, values: form, errors: toFieldErrors(problems) }, 422);
    try {
      await applications.update(existing.client_id, body);
    } catch (error) {
      return formPage(request, reply, { mode: 'edit', existing, values: form, errors: fieldErrors(error, ['name']) }, 422);
    }
    return redirect(reply, `/console/applications?done=${'client_secret' in body ? 'rotated' : 'updated'}`);
  });

  /** The credential check (the API's POST …/check): its verdict on a page of its own, with the way back. */
  app.post('/applications/:client_id/check', consoleRoute('admin'), async (request, reply) => {
    const existing = await find(clientIdOf(request));
    const result = await app.services.externalOauthTokens.check(existing.client_id);
    const ctx = await pageContext(request);
    return sendPage(reply, layout(ctx, { title: `Credential check: ${existing.name}`, body: checkView(existing, result) }));
  });

  /** Every user's connection to this application (the API's user_states list), with a Revoke button each. */
  app.get('/applications/:client_id/connections', consoleRoute('admin'), async (request, reply) => {
    const existing = await find(clientIdOf(request));
    const page = pageNumber((request.query as { page?: unknown }).page);
    const statuses = await app.services.externalOauthTokens.list(existing.client_id, { limit: PAGE_SIZE + 1, offset: (page - 1) * PAGE_SIZE });
    const ctx = await pageContext(request);
    const body = userStatesView(ctx, existing, statuses.slice(0, PAGE_SIZE), page, statuses.length > PAGE_SIZE);
    return sendPage(reply, layout(ctx, { title: `Connections to ${existing.name}`, notice: notice(request.query, REVOKE_NOTICES), body }));
  });

  /** Revoke: the API's DELETE of a user state (deleted here, then revoked at the provider, best effort). */
  app.post('/applications/:client_id/connections/:user_id/revoke', consoleRoute('admin'), async (request, reply) => {
    const existing = await find(clientIdOf(request));
    await app.services.externalOauthTokens.disconnect(callerOf(request), existing.client_id, (request.params as { user_id: string }).user_id);
    return redirect(reply, `${appPath(existing.client_id)}/connections?done=revoked`);
  });

  app.get('/applications/:client_id/delete', consoleRoute('admin'), async (request, reply) => {
    const existing = await find(clientIdOf(request));
    const holders = await app.services.userStates.countForApplication(existing.id);
    const ctx = await pageContext(request);
    return sendPage(reply, layout(ctx, { title: `Delete ${existing.name}?`, body: deleteView(ctx, existing, holders) }));
  });

  app.post('/applications/:client_id/delete', consoleRoute('admin'), async (request, reply) => {
    // As the API's delete: users' tokens are revoked at the provider too, best effort.
    await app.services.externalOauthTokens.deleteApplication(clientIdOf(request));
    return redirect(reply, '/console/applications?done=deleted');
  });
}

const clientIdOf = (request: FastifyRequest) => (request.params as { client_id: string }).client_id;

/** A required text field left empty is left out of the body, so the schema reports it as missing. */
function given(form: FormBody, name: string): Record<string, string> {
  const value = text(form, name);
  return value === '' ? {} : { [name]: value };
}

/** The provider settings of a form: an empty field is null, which clears the setting (as in the API). */
function providerValues(form: FormBody): Record<string, string | null> {
  return Object.fromEntries(PROVIDER_FIELDS.map((f) => [f, orNull(text(form, f))]));
}

/**
 * The presets' one requirement the form can check before anything is stored: Snowflake and Databricks build
 * their endpoints from the account URL, so choosing one of them asks for it (unless both endpoints are given).
 */
function presetProblems(body: Record<string, unknown>): ValidationProblem[] {
  const dialect = typeof body.dialect_name === 'string' ? body.dialect_name : '';
  if (!Object.hasOwn(NEEDS_ACCOUNT_URL, dialect) || body.provider_url || (body.authorization_endpoint && body.token_endpoint)) return [];
  return [{ field: 'provider_url', code: 'missing_field', message: `${NEEDS_ACCOUNT_URL[dialect]} needs the account URL, e.g. https://acme-xy12345.snowflakecomputing.com.` }];
}

function valuesOf(a: ExternalOauthApplicationView): FormBody {
  return {
    ...Object.fromEntries(PROVIDER_FIELDS.map((f) => [f, a[f] ?? ''])),
    name: a.name,
    tenant_id: a.tenant_id ?? '',
    dialect_name: a.dialect_name ?? '',
    bi_directional_data_access: a.bi_directional_data_access ? 'true' : undefined,
  };
}

function listView(q: string, page: number, items: ExternalOauthApplicationView[], hasNext: boolean): Html {
  const head = html`<tr><th scope="col">Name</th><th scope="col">Client ID</th><th scope="col">Dialect</th><th scope="col">Created</th><th scope="col">Actions</th></tr>`;
  const rows = items.map(
    (a) => html`<tr>
<td><a href="${appPath(a.client_id)}/edit">${a.name}</a></td>
<td><code>${a.client_id}</code></td>
<td>${a.dialect_name ?? ''}</td>
<td>${formatTime(a.created_at)}</td>
<td class="actions"><a href="${appPath(a.client_id)}/edit">Edit<span class="visually-hidden"> ${a.name}</span></a>
<a href="${appPath(a.client_id)}/delete">Delete<span class="visually-hidden"> ${a.name}</span></a></td>
</tr>`,
  );
  return html`<p class="toolbar"><a class="button" href="/console/applications/new">New application</a></p>
<form method="get" action="/console/applications" role="search" class="search">
<label for="search-q">Search by name or client ID</label>
<input id="search-q" name="q" type="search" value="${q}">
<button type="submit">Search</button>
${q ? html`<a href="/console/applications">Clear search</a>` : null}
</form>
${table('Applications', head, rows, q ? 'No application matches this search.' : 'No applications yet.')}
${pager('/console/applications', q ? { q } : {}, page, hasNext)}`;
}

interface FormState {
  mode: 'create' | 'edit';
  redirectUri?: string | null;
  existing?: ExternalOauthApplicationView;
  values: FormBody;
  errors: FieldErrors;
}

async function formPage(request: FastifyRequest, reply: FastifyReply, state: FormState, status = 200) {
  const ctx = await pageContext(request);
  const title = state.mode === 'create' ? 'New application' : `Edit ${state.existing!.name}`;
  const publicUrl = request.server.config.publicUrl;
  const redirectUri = publicUrl === null ? null : `${publicUrl.replace(/\/+$/, '')}/external_oauth/redirect`;
  return sendPage(reply, layout(ctx, { title, body: formView(ctx, { ...state, redirectUri }) }), status);
}

function formView(ctx: PageContext, { mode, existing, values, errors, redirectUri }: FormState): Html {
  const action = mode === 'create' ? '/console/applications' : `${appPath(existing!.client_id)}/edit`;
  const v = (name: string) => text(values, name);
  return html`${errorSummary(errors, LABELS)}
<form method="post" action="${action}" class="stack" novalidate>
${csrfField(ctx.csrf)}
${textField({ name: 'name', label: LABELS.name, value: v('name'), required: true, maxlength: 255 }, errors)}
${
  mode === 'create'
    ? textField({ name: 'client_id', label: LABELS.client_id, value: v('client_id'), required: true, maxlength: 255, hint: 'The OAuth client ID the external system issued. It cannot be changed later.' }, errors)
    : html`<div class="field"><p class="label">Client ID</p><p><code>${existing!.client_id}</code></p></div>`
}
${textField(
  mode === 'create'
    ? { name: 'client_secret', label: LABELS.client_secret, type: 'password', required: true, autocomplete: 'off', hint: 'Stored encrypted and never shown again.' }
    : { name: 'client_secret', label: 'New client secret', type: 'password', autocomplete: 'off', hint: 'Leave empty to keep the current secret; enter a new one to rotate it (the current one stays accepted for a while, so you can register the new one at the provider).' },
  errors,
)}
${mode === 'edit' ? overlapView(existing!) : null}
${textField({ name: 'tenant_id', label: LABELS.tenant_id, value: v('tenant_id'), maxlength: 255, hint: 'Only for providers that have tenants (Microsoft Entra).' }, errors)}
${textField({ name: 'dialect_name', label: LABELS.dialect_name, value: v('dialect_name'), list: 'dialects', maxlength: 64, hint: 'Lower-case letters, digits and _, such as snowflake.' }, errors)}
<datalist id="dialects">${DIALECTS.map((d) => html`<option value="${d}"></option>`)}</datalist>
${checkboxField({ name: 'bi_directional_data_access', label: LABELS.bi_directional_data_access, checked: v('bi_directional_data_access') === 'true' }, errors)}
<fieldset class="stack">
<legend>Provider (for connecting users)</legend>
${redirectUriView(redirectUri ?? null)}
${PROVIDER_FIELDS.map((f) => textField({ name: f, label: LABELS[f], value: v(f), maxlength: f === 'scopes' ? 1024 : 2048, hint: PROVIDER_HINTS[f] }, errors))}
</fieldset>
<div class="actions"><button type="submit">${mode === 'create' ? 'Create application' : 'Save changes'}</button>
<a href="/console/applications">Cancel</a></div>
</form>
${
  mode === 'edit'
    ? html`<form method="post" action="${appPath(existing!.client_id)}/check" class="actions">
${csrfField(ctx.csrf)}
<button type="submit">Check credentials</button>
<a href="${appPath(existing!.client_id)}/connections">Users' connections</a>
</form>`
    : null
}`;
}

/** The redirect URI to register at the provider, exactly; or why there is none yet. */
function redirectUriView(redirectUri: string | null): Html {
  return redirectUri === null
    ? html`<p class="warning" id="redirect-uri">EOA_PUBLIC_URL is not set, so this service has no redirect URI yet: users cannot connect until it is set. Register EOA_PUBLIC_URL/external_oauth/redirect at the provider.</p>`
    : html`<div class="field"><p class="label">Redirect URI to register at the provider</p><p><code id="redirect-uri">${redirectUri}</code></p></div>`;
}

/** After a rotation the previous secret stays accepted until its overlap ends. */
function overlapView(a: ExternalOauthApplicationView): Html | null {
  if (!a.has_previous_secret) return null;
  return html`<p class="notice" id="secret-overlap">The client secret was rotated: the previous secret is kept until ${formatTime(a.previous_secret_expires_at)}. Register the new one at the provider before then.</p>`;
}

const VERDICTS: Record<CheckResult['client_authentication'], string> = {
  ok: 'OK: the provider accepts the client ID and secret.',
  rejected: 'Rejected: the provider refuses the client ID or secret.',
  unreachable: 'Unreachable: the provider could not be reached.',
  inconclusive: 'Inconclusive: the provider did not say whether it accepts them.',
};

function checkView(a: ExternalOauthApplicationView, result: CheckResult): Html {
  return html`<p class="verdict verdict-${result.client_authentication}" role="status"><strong>${VERDICTS[result.client_authentication]}</strong></p>
${result.detail ? html`<p class="detail">${result.detail}</p>` : null}
<p><a href="${appPath(a.client_id)}/edit">Back to ${a.name}</a></p>`;
}

const REVOKE_NOTICES = { revoked: "The user's connection was revoked." };

const STATUS_WORDS: Record<UserStateStatus['status'], string> = { active: 'Active', expired: 'Expired (refreshable)', needs_reauth: 'Needs reconnecting' };

function userStatesView(ctx: PageContext, a: ExternalOauthApplicationView, statuses: UserStateStatus[], page: number, hasNext: boolean): Html {
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
<p><a href="${appPath(a.client_id)}/edit">Back to ${a.name}</a></p>`;
}

function deleteView(ctx: PageContext, a: ExternalOauthApplicationView, holders: number): Html {
  const tokens =
    holders === 0
      ? 'No user has stored tokens for it.'
      : `${holders} ${holders === 1 ? "user's" : "users'"} stored tokens for it will be deleted with it; ${holders === 1 ? 'that user' : 'those users'} will have to connect again.`;
  return html`<p>You are about to delete the application <strong>${a.name}</strong> (client ID <code>${a.client_id}</code>).</p>
<p class="warning">${tokens} This cannot be undone.</p>
<form method="post" action="${appPath(a.client_id)}/delete" class="actions">
${csrfField(ctx.csrf)}
<button type="submit" class="danger">Delete application</button>
<a href="/console/applications">Cancel</a>
</form>`;
}
