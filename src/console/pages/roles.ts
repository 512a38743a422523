import type { FastifyInstance } from 'fastify';
import { html } from '../html.ts';
import { layout, pageContext, sendPage, table } from '../layout.ts';
import { consoleRoute } from '../routes.ts';
import { ADMIN_ROLE_ID } from '../../store/users-repository.ts';

/** Admins: the built-in roles and what each allows. Roles are given to users on each user's page. */
export default async function rolesPages(app: FastifyInstance) {
  app.get('/roles', consoleRoute('admin'), async (request, reply) => {
    const roles = await app.services.users.roles();
    const head = html`<tr><th scope="col">Id</th><th scope="col">Name</th><th scope="col">Allows</th></tr>`;
    const rows = roles.map(
      (r) => html`<tr><td>${r.id}</td><td>${r.name}</td><td>${
        r.id === ADMIN_ROLE_ID
          ? 'Everything: applications, users, roles, API credentials, and acting as another user.'
          : 'Signing in, and managing their own connections (their own stored tokens).'
      }</td></tr>`,
    );
    const body = html`${table('Roles', head, rows, 'No roles.')}
<p>Roles are built in. Give or take a role on the user's page, under <a href="/console/users">Users</a>.</p>`;
    return sendPage(reply, layout(await pageContext(request), { title: 'Roles', body }));
  });
}
