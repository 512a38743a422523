import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../http/errors.ts';
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
};

/** Dialects with a known OAuth set-up; any other lower-case dialect name is accepted too. */
const DIALECTS = ['snowflake', 'databricks', 'bigquery_standard_sql'];

const NOTICES = { created: 'Application created.', updated: 'Application saved.', deleted: 'Application deleted.' };

const appPath = (clientId: string) => `/console/applications/${segment(clientId)}`;

export default async function applicationsPages(app: FastifyInstance) {
  const applications = app.services.externalOauthApplications;

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
    };
    const problems = [...schemaProblems(CreateExternalOauthApplicationBody, body), ...applicationRuleProblems(body)];
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
    };
    const problems = [...schemaProblems(UpdateExternalOauthApplicationBody, body), ...applicationRuleProblems(body, existing.client_id)];
    if (!('name' in body)) problems.push({ field: 'name', code: 'missing_field', message: 'This field is required.' });
    if (problems.length > 0) return formPage(request, reply, { mode: 'edit', existing, values: form, errors: toFieldErrors(problems) }, 422);
    try {
      await applications.update(existing.client_id, body);
    } catch (error) {
      return formPage(request, reply, { mode: 'edit', existing, values: form, errors: fieldErrors(error, ['name']) }, 422);
    }
    return redirect(reply, '/console/applications?done=updated');
  });

  app.get('/applications/:client_id/delete', consoleRoute('admin'), async (request, reply) => {
    const existing = await find(clientIdOf(request));
    const holders = await app.services.userStates.countForApplication(existing.id);
    const ctx = await pageContext(request);
    return sendPage(reply, layout(ctx, { title: `Delete ${existing.name}?`, body: deleteView(ctx, existing, holders) }));
  });

  app.post('/applications/:client_id/delete', consoleRoute('admin'), async (request, reply) => {
    await applications.delete(clientIdOf(request));
    return redirect(reply, '/console/applications?done=deleted');
  });
}

const clientIdOf = (request: FastifyRequest) => (request.params as { client_id: string }).client_id;

/** A required text field left empty is left out of the body, so the schema reports it as missing. */
function given(form: FormBody, name: string): Record<string, string> {
  const value = text(form, name);
  return value === '' ? {} : { [name]: value };
}

function valuesOf(a: ExternalOauthApplicationView): FormBody {
  return {
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
  existing?: ExternalOauthApplicationView;
  values: FormBody;
  errors: FieldErrors;
}

async function formPage(request: FastifyRequest, reply: FastifyReply, state: FormState, status = 200) {
  const ctx = await pageContext(request);
  const title = state.mode === 'create' ? 'New application' : `Edit ${state.existing!.name}`;
  return sendPage(reply, layout(ctx, { title, body: formView(ctx, state) }), status);
}

function formView(ctx: PageContext, { mode, existing, values, errors }: FormState): Html {
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
    : { name: 'client_secret', label: 'New client secret', type: 'password', autocomplete: 'off', hint: 'Leave empty to keep the current secret; enter a new one to rotate it.' },
  errors,
)}
${textField({ name: 'tenant_id', label: LABELS.tenant_id, value: v('tenant_id'), maxlength: 255, hint: 'Only for providers that have tenants (Microsoft Entra).' }, errors)}
${textField({ name: 'dialect_name', label: LABELS.dialect_name, value: v('dialect_name'), list: 'dialects', maxlength: 64, hint: 'Lower-case letters, digits and _, such as snowflake.' }, errors)}
<datalist id="dialects">${DIALECTS.map((d) => html`<option value="${d}"></option>`)}</datalist>
${checkboxField({ name: 'bi_directional_data_access', label: LABELS.bi_directional_data_access, checked: v('bi_directional_data_access') === 'true' }, errors)}
<div class="actions"><button type="submit">${mode === 'create' ? 'Create application' : 'Save changes'}</button>
<a href="/console/applications">Cancel</a></div>
</form>`;
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
