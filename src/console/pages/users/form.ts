import { ApiError } from '../../../errors.ts';
import type { Role, User } from '../../../store/users-repository.ts';
import { html, type Html } from '../../html.ts';
import type { PageContext } from '../../layout.ts';
import { csrfField, errorSummary, orNull, text, textField, toFieldErrors, values, type FieldErrors, type FormBody } from '../../forms.ts';
import { USERS } from './list.ts';

/** A user's fields and roles as form fields: the new-user form, and the same fields on a user's page. */

export const LABELS: Record<string, string> = {
  first_name: 'First name',
  last_name: 'Last name',
  email: 'Email',
  locale: 'Locale',
  is_disabled: 'Disabled',
  role_ids: 'Roles',
  purpose: 'Purpose',
};

/** The API's user body a posted form stands for. */
export function userBody(form: FormBody) {
  return {
    first_name: orNull(text(form, 'first_name')),
    last_name: orNull(text(form, 'last_name')),
    email: orNull(text(form, 'email').trim()),
    locale: orNull(text(form, 'locale').trim()),
  };
}

/** The form's fields filled from a stored user. */
export function userValues(user: User): FormBody {
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
export function forbiddenOn(error: unknown, field: string): FieldErrors | null {
  return error instanceof ApiError && error.code === 'forbidden' ? toFieldErrors([{ field, code: 'invalid', message: error.message }]) : null;
}

export function detailFields(form: FormBody, errors: FieldErrors): Html {
  const v = (name: string) => text(form, name);
  return html`${textField({ name: 'first_name', label: LABELS.first_name, value: v('first_name'), maxlength: 255, autocomplete: 'off' }, errors)}
${textField({ name: 'last_name', label: LABELS.last_name, value: v('last_name'), maxlength: 255, autocomplete: 'off' }, errors)}
${textField({ name: 'email', label: LABELS.email, type: 'email', value: v('email'), maxlength: 255, autocomplete: 'off' }, errors)}
${textField({ name: 'locale', label: LABELS.locale, value: v('locale'), maxlength: 16, hint: 'Optional, such as en or de_DE.' }, errors)}`;
}

export function roleFields(roles: Role[], checked: string[], errors: FieldErrors): Html {
  return html`<fieldset id="field-role_ids"${errors.has('role_ids') ? html` aria-describedby="error-role_ids"` : null}>
<legend>Roles</legend>
${errors.has('role_ids') ? html`<p class="field-error" id="error-role_ids">${errors.get('role_ids')!.join(' ')}</p>` : null}
${roles.map(
  (r) => html`<div class="checkbox"><input type="checkbox" id="role-${r.id}" name="role_ids" value="${r.id}"${checked.includes(r.id) ? html` checked` : null}>
<label for="role-${r.id}">${r.name}</label></div>`,
)}
</fieldset>`;
}

export function newUserView(ctx: PageContext, form: FormBody, roles: Role[], errors: FieldErrors): Html {
  return html`${errorSummary(errors, LABELS)}
<form method="post" action="${USERS}" class="stack" novalidate>
${csrfField(ctx.csrf)}
${detailFields(form, errors)}
${roleFields(roles, values(form, 'role_ids'), errors)}
<div class="actions"><button type="submit">Create user</button> <a href="${USERS}">Cancel</a></div>
</form>`;
}
