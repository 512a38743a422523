import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ValidationProblem } from '../../../errors.ts';
import { CreateExternalOauthApplicationBody, UpdateExternalOauthApplicationBody } from '../../../schemas/external-oauth-applications.ts';
import { applicationRuleProblems, type ApplicationRuleOptions, type ExternalOauthApplicationView } from '../../../services/external-oauth-applications.ts';
import { PROVIDER_COLUMNS, type ProviderColumns } from '../../../store/external-oauth-applications-repository.ts';
import { html, type Html } from '../../html.ts';
import { formatTime, layout, pageContext, sendPage, type PageContext } from '../../layout.ts';
import { checkboxField, csrfField, errorSummary, orNull, schemaProblems, text, textField, type FieldErrors, type FormBody } from '../../forms.ts';
import { APPLICATIONS, appPath } from './list.ts';

/** The application form, for creating one and for editing one (where a new secret rotates the current one). */

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
const PROVIDER_HINTS: Record<keyof ProviderColumns, string> = {
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

interface FormState {
  /** The application being edited; none when creating one. */
  existing?: ExternalOauthApplicationView;
  values: FormBody;
  errors: FieldErrors;
}

/**
 * The API body a posted form stands for. A required text field left empty is left out, so the schema reports
 * it as missing; on edit an empty secret field keeps the current secret and a value rotates it; an empty
 * provider setting is null, which clears it (as in the API).
 */
export function applicationBody(form: FormBody, existing?: ExternalOauthApplicationView): Record<string, unknown> {
  return {
    ...given(form, 'name'),
    ...(existing ? {} : given(form, 'client_id')),
    ...given(form, 'client_secret'),
    tenant_id: orNull(text(form, 'tenant_id')),
    dialect_name: orNull(text(form, 'dialect_name')),
    bi_directional_data_access: text(form, 'bi_directional_data_access') === 'true',
    ...Object.fromEntries(PROVIDER_COLUMNS.map((f) => [f, orNull(text(form, f))])),
  };
}

function given(form: FormBody, name: string): Record<string, string> {
  const value = text(form, name);
  return value === '' ? {} : { [name]: value };
}

/** Everything the API would refuse in this body, each on its field, before anything is stored. */
export function applicationProblems(body: Record<string, unknown>, existing: ExternalOauthApplicationView | undefined, ruleOptions: ApplicationRuleOptions): ValidationProblem[] {
  const problems = [
    ...schemaProblems(existing ? UpdateExternalOauthApplicationBody : CreateExternalOauthApplicationBody, body),
    ...applicationRuleProblems(body, existing?.client_id, ruleOptions),
    ...presetProblems(body),
  ];
  // The API's update may leave the name out; the form always shows it, so an empty one is a mistake.
  if (existing && !('name' in body)) problems.push({ field: 'name', code: 'missing_field', message: 'This field is required.' });
  return problems;
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

/** The form's fields filled from a stored application (never its secret). */
export function valuesOf(a: ExternalOauthApplicationView): FormBody {
  return {
    ...Object.fromEntries(PROVIDER_COLUMNS.map((f) => [f, a[f] ?? ''])),
    name: a.name,
    tenant_id: a.tenant_id ?? '',
    dialect_name: a.dialect_name ?? '',
    bi_directional_data_access: a.bi_directional_data_access ? 'true' : undefined,
  };
}

export async function formPage(request: FastifyRequest, reply: FastifyReply, state: FormState, status = 200) {
  const ctx = await pageContext(request);
  const title = state.existing ? `Edit ${state.existing.name}` : 'New application';
  const publicUrl = request.server.config.publicUrl;
  const redirectUri = publicUrl === null ? null : `${publicUrl.replace(/\/+$/, '')}/external_oauth/redirect`;
  return sendPage(reply, layout(ctx, { title, body: formView(ctx, state, redirectUri) }), status);
}

function formView(ctx: PageContext, { existing, values, errors }: FormState, redirectUri: string | null): Html {
  const action = existing ? `${appPath(existing.client_id)}/edit` : APPLICATIONS;
  const v = (name: string) => text(values, name);
  return html`${errorSummary(errors, LABELS)}
<form method="post" action="${action}" class="stack" novalidate>
${csrfField(ctx.csrf)}
${textField({ name: 'name', label: LABELS.name, value: v('name'), required: true, maxlength: 255 }, errors)}
${
  existing
    ? html`<div class="field"><p class="label">Client ID</p><p><code>${existing.client_id}</code></p></div>`
    : textField({ name: 'client_id', label: LABELS.client_id, value: v('client_id'), required: true, maxlength: 255, hint: 'The OAuth client ID the external system issued. It cannot be changed later.' }, errors)
}
${textField(
  existing
    ? { name: 'client_secret', label: 'New client secret', type: 'password', autocomplete: 'off', hint: 'Leave empty to keep the current secret; enter a new one to rotate it (the current one stays accepted for a while, so you can register the new one at the provider).' }
    : { name: 'client_secret', label: LABELS.client_secret, type: 'password', required: true, autocomplete: 'off', hint: 'Stored encrypted and never shown again.' },
  errors,
)}
${existing ? overlapView(existing) : null}
${textField({ name: 'tenant_id', label: LABELS.tenant_id, value: v('tenant_id'), maxlength: 255, hint: 'Only for providers that have tenants (Microsoft Entra).' }, errors)}
${textField({ name: 'dialect_name', label: LABELS.dialect_name, value: v('dialect_name'), list: 'dialects', maxlength: 64, hint: 'Lower-case letters, digits and _, such as snowflake.' }, errors)}
<datalist id="dialects">${DIALECTS.map((d) => html`<option value="${d}"></option>`)}</datalist>
${checkboxField({ name: 'bi_directional_data_access', label: LABELS.bi_directional_data_access, checked: v('bi_directional_data_access') === 'true' }, errors)}
<fieldset class="stack">
<legend>Provider (for connecting users)</legend>
${redirectUriView(redirectUri)}
${PROVIDER_COLUMNS.map((f) => textField({ name: f, label: LABELS[f], value: v(f), maxlength: f === 'scopes' ? 1024 : 2048, hint: PROVIDER_HINTS[f] }, errors))}
</fieldset>
<div class="actions"><button type="submit">${existing ? 'Save changes' : 'Create application'}</button>
<a href="${APPLICATIONS}">Cancel</a></div>
</form>
${
  existing
    ? html`<form method="post" action="${appPath(existing.client_id)}/check" class="actions">
${csrfField(ctx.csrf)}
<button type="submit">Check credentials</button>
<a href="${appPath(existing.client_id)}/connections">Users' connections</a>
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
