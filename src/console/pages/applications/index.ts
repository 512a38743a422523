import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../../errors.ts';
import { callerOf } from '../../../http/auth.ts';
import { requestContext } from '../../../http/request-context.ts';
import type { CreateExternalOauthApplicationBody, UpdateExternalOauthApplicationBody } from '../../../schemas/external-oauth-applications.ts';
import type { ExternalOauthApplicationView } from '../../../services/external-oauth-applications.ts';
import { layout, notice, onePage, pageContext, pageNumber, pageWindow, redirect, sendPage } from '../../layout.ts';
import { fieldErrors, formBody, noErrors, toFieldErrors } from '../../forms.ts';
import { consoleRoute } from '../../routes.ts';
import { APPLICATIONS, appPath, findPage, listView } from './list.ts';
import { applicationBody, applicationProblems, formPage, valuesOf } from './form.ts';
import { checkView, deleteView, userStatesView } from './detail.ts';

/** Admins: list, search and page applications; create, edit (rotate the secret), delete with a confirmation. */

const NOTICES = { created: 'Application created.', updated: 'Application saved.', deleted: 'Application deleted.', rotated: 'Application saved and its client secret rotated.' };

const REVOKE_NOTICES = { revoked: "The user's connection was revoked." };

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
    const { items, hasNext } = await findPage(applications, q, page);
    const ctx = await pageContext(request);
    return sendPage(reply, layout(ctx, { title: 'Applications', notice: notice(request.query, NOTICES), body: listView(q, page, items, hasNext) }));
  });

  app.get('/applications/new', consoleRoute('admin'), async (request, reply) => formPage(request, reply, { values: {}, errors: noErrors() }));

  app.post('/applications', consoleRoute('admin'), async (request, reply) => {
    const form = formBody(request);
    const body = applicationBody(form);
    const problems = applicationProblems(body, undefined, ruleOptions);
    if (problems.length > 0) return formPage(request, reply, { values: form, errors: toFieldErrors(problems) }, 422);
    try {
      await applications.create(requestContext(request), body as CreateExternalOauthApplicationBody);
    } catch (error) {
      return formPage(request, reply, { values: form, errors: fieldErrors(error, ['client_id', 'name']) }, 422);
    }
    return redirect(reply, `${APPLICATIONS}?done=created`);
  });

  app.get('/applications/:client_id/edit', consoleRoute('admin'), async (request, reply) => {
    const existing = await find(clientIdOf(request));
    return formPage(request, reply, { existing, values: valuesOf(existing), errors: noErrors() });
  });

  app.post('/applications/:client_id/edit', consoleRoute('admin'), async (request, reply) => {
    const context = requestContext(request);
    const existing = await find(clientIdOf(request));
    const form = formBody(request);
    const body = applicationBody(form, existing);
    const problems = applicationProblems(body, existing, ruleOptions);
    if (problems.length > 0) return formPage(request, reply, { existing, values: form, errors: toFieldErrors(problems) }, 422);
    try {
      await applications.update(context, existing.client_id, body as UpdateExternalOauthApplicationBody);
    } catch (error) {
      return formPage(request, reply, { existing, values: form, errors: fieldErrors(error, ['name']) }, 422);
    }
    return redirect(reply, `${APPLICATIONS}?done=${'client_secret' in body ? 'rotated' : 'updated'}`);
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
    const { items, hasNext } = onePage(await app.services.externalOauthTokens.list(existing.client_id, pageWindow(page)));
    const ctx = await pageContext(request);
    const body = userStatesView(ctx, existing, items, page, hasNext);
    return sendPage(reply, layout(ctx, { title: `Connections to ${existing.name}`, notice: notice(request.query, REVOKE_NOTICES), body }));
  });

  /** Revoke: the API's DELETE of a user state (deleted here, then revoked at the provider, best effort). */
  app.post('/applications/:client_id/connections/:user_id/revoke', consoleRoute('admin'), async (request, reply) => {
    const context = requestContext(request);
    const existing = await find(clientIdOf(request));
    await app.services.externalOauthTokens.disconnect(context, callerOf(request), existing.client_id, (request.params as { user_id: string }).user_id);
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
    await app.services.externalOauthTokens.deleteApplication(requestContext(request), clientIdOf(request));
    return redirect(reply, `${APPLICATIONS}?done=deleted`);
  });
}

const clientIdOf = (request: FastifyRequest) => (request.params as { client_id: string }).client_id;
