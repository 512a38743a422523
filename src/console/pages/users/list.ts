import type { Role, User } from '../../../store/users-repository.ts';
import { html, segment, type Html } from '../../html.ts';
import { displayName, formatTime, pager, table } from '../../layout.ts';

export const USERS = '/console/users';

export const userPath = (id: string) => `${USERS}/${segment(id)}`;

export function listView(list: User[], roles: Role[], page: number, hasNext: boolean): Html {
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
  return html`<p class="toolbar"><a class="button" href="${USERS}/new">New user</a></p>
${table('Users', head, rows, 'No users.')}
${pager(USERS, {}, page, hasNext)}`;
}
