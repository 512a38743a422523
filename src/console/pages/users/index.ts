import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { callerOf } from '../../../http/auth.ts';
import { requestContext } from '../../../http/request-context.ts';
import { CredentialsApi3Body, UserBody } from '../../../schemas/users.ts';
import { USER_ROLE_ID, type User } from '../../../store/users-repository.ts';
import { displayName, layout, notice, onePage, pageContext, pageNumber, pageWindow, redirect, sendPage } from '../../layout.ts';
import { fieldErrors, formBody, noErrors, orNull, schemaProblems, text, toFieldErrors, values, type FieldErrors, type FormBody } from '../../forms.ts';
import { consoleRoute } from '../../routes.ts';
import { USERS, listView, userPath } from './list.ts';
import { forbiddenOn, newUserView, userBody, userValues } from './form.ts';
import { deleteView, newCredentialsView, userView, type UserPageState } from './detail.ts';

/** Admins: users, their roles and their API credentials (a new secret is shown once, on its own page). */

const NOTICES = {
  created: 'User created.',
  updated: 'User saved.',
  roles: 'Roles saved.',
  deleted: 'User deleted.',
  'credentials-disabled': 'API credentials disabled: their sessions have ended.',
  'credentials-enabled': 'API credentials enabled.',
  'credentials-deleted': 'API credentials deleted.',
};

export default async function usersPages(app: FastifyInstance) {
  const users = app.services.users;

  app.get('/users', consoleRoute('admin'), async (request, reply) => {
    const page = pageNumber((request.query as { page?: unknown }).page);
    const [list, roles] = await Promise.all([users.list(pageWindow(page)), users.roles()]);
    const { items, hasNext } = onePage(list);
    const ctx = await pageContext(request);
    return sendPage(reply, layout(ctx, { title: 'Users', notice: notice(request.query, NOTICES), body: listView(items, roles, page, hasNext) }));
  });

  app.get('/users/new', consoleRoute('admin'), async (request, reply) =>
    newUserPage(request, reply, { first_name: '', last_name: '', email: '', role_ids: [USER_ROLE_ID] }, noErrors()),
  );

  app.post('/users', consoleRoute('admin'), async (request, reply) => {
    const context = requestContext(request);
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
      user = await users.create(context, body);
    } catch (error) {
      return newUserPage(request, reply, form, fieldErrors(error, ['email']), 422);
    }
    if (roleIds.length > 0) await users.setUserRoles(context, callerOf(request).userId, user.id, roleIds);
    return redirect(reply, `${userPath(user.id)}?done=created`);
  });

  app.get('/users/:user_id', consoleRoute('admin'), async (request, reply) => {
    const user = await users.get(userIdOf(request));
    return userPage(request, reply, { user, values: userValues(user) });
  });

  app.post('/users/:user_id', consoleRoute('admin'), async (request, reply) => {
    const context = requestContext(request);
    const user = await users.get(userIdOf(request));
    const form = formBody(request);
    const body = { ...userBody(form), is_disabled: text(form, 'is_disabled') === 'true' };
    const problems = schemaProblems(UserBody, body);
    if (problems.length > 0) return userPage(request, reply, { user, values: form, detailErrors: toFieldErrors(problems) }, 422);
    try {
      await users.update(context, callerOf(request).userId, user.id, body);
    } catch (error) {
      const errors = forbiddenOn(error, 'is_disabled') ?? fieldErrors(error, ['email']);
      return userPage(request, reply, { user, values: form, detailErrors: errors }, 422);
    }
    return redirect(reply, `${userPath(user.id)}?done=updated`);
  });

  app.post('/users/:user_id/roles', consoleRoute('admin'), async (request, reply) => {
    const context = requestContext(request);
    const user = await users.get(userIdOf(request));
    try {
      await users.setUserRoles(context, callerOf(request).userId, user.id, values(formBody(request), 'role_ids'));
    } catch (error) {
      const errors = forbiddenOn(error, 'role_ids') ?? fieldErrors(error, ['role_ids']);
      return userPage(request, reply, { user, values: userValues(user), roleErrors: errors }, 422);
    }
    return redirect(reply, `${userPath(user.id)}?done=roles`);
  });

  app.get('/users/:user_id/delete', consoleRoute('admin'), async (request, reply) => {
    const user = await users.get(userIdOf(request));
    const ctx = await pageContext(request);
    return sendPage(reply, layout(ctx, { title: `Delete ${displayName(user)}?`, body: deleteView(ctx, user) }));
  });

  app.post('/users/:user_id/delete', consoleRoute('admin'), async (request, reply) => {
    await users.delete(requestContext(request), callerOf(request).userId, userIdOf(request));
    return redirect(reply, `${USERS}?done=deleted`);
  });

  /** The one response that ever carries the new secret: a page, never a redirect (no secret in a URL), never cached. */
  app.post('/users/:user_id/credentials', consoleRoute('admin'), async (request, reply) => {
    const context = requestContext(request);
    const user = await users.get(userIdOf(request));
    const purpose = orNull(text(formBody(request), 'purpose'));
    const problems = schemaProblems(CredentialsApi3Body, { purpose });
    if (problems.length > 0) return userPage(request, reply, { user, values: userValues(user), credentialErrors: toFieldErrors(problems) }, 422);
    const created = await users.createCredentials(context, user.id, purpose);
    const ctx = await pageContext(request);
    return sendPage(reply, layout(ctx, { title: 'New API credentials', body: newCredentialsView(user, created) }));
  });

  app.post('/users/:user_id/credentials/:credentials_id', consoleRoute('admin'), async (request, reply) => {
    const { user_id, credentials_id } = request.params as { user_id: string; credentials_id: string };
    const disable = text(formBody(request), 'is_disabled') === 'true';
    await users.updateCredentials(requestContext(request), user_id, credentials_id, { is_disabled: disable });
    return redirect(reply, `${userPath(user_id)}?done=${disable ? 'credentials-disabled' : 'credentials-enabled'}`);
  });

  app.post('/users/:user_id/credentials/:credentials_id/delete', consoleRoute('admin'), async (request, reply) => {
    const { user_id, credentials_id } = request.params as { user_id: string; credentials_id: string };
    await users.deleteCredentials(requestContext(request), user_id, credentials_id);
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
    return sendPage(reply, layout(ctx, { title: 'New user', body: newUserView(ctx, form, roles, errors) }), status);
  }
}

const userIdOf = (request: FastifyRequest) => (request.params as { user_id: string }).user_id;
