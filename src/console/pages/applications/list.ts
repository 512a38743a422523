import type { FastifyInstance } from 'fastify';
import type { ExternalOauthApplicationView } from '../../../services/external-oauth-applications.ts';
import { html, segment, type Html } from '../../html.ts';
import { formatTime, onePage, PAGE_SIZE, pageWindow, pager, table } from '../../layout.ts';

export const APPLICATIONS = '/console/applications';

export const appPath = (clientId: string) => `${APPLICATIONS}/${segment(clientId)}`;

type ApplicationsService = FastifyInstance['services']['externalOauthApplications'];

/**
 * One page of the list. A search matches part of the name or client ID, in any case: the service offers
 * exact filters only, so the search walks the streamed list (flat memory, one query per 1,000 rows) and
 * stops as soon as it has this page and knows whether another follows.
 */
export async function findPage(applications: ApplicationsService, q: string, page: number) {
  const window = pageWindow(page);
  const items: ExternalOauthApplicationView[] = [];
  if (q === '') {
    for await (const a of await applications.stream(window)) items.push(a);
  } else {
    const needle = q.toLowerCase();
    let matched = 0;
    for await (const a of await applications.stream()) {
      if (!a.name.toLowerCase().includes(needle) && !a.client_id.toLowerCase().includes(needle)) continue;
      matched += 1;
      if (matched > window.offset) items.push(a);
      if (items.length > PAGE_SIZE) break;
    }
  }
  return onePage(items);
}

export function listView(q: string, page: number, items: ExternalOauthApplicationView[], hasNext: boolean): Html {
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
  return html`<p class="toolbar"><a class="button" href="${APPLICATIONS}/new">New application</a></p>
<form method="get" action="${APPLICATIONS}" role="search" class="search">
<label for="search-q">Search by name or client ID</label>
<input id="search-q" name="q" type="search" value="${q}">
<button type="submit">Search</button>
${q ? html`<a href="${APPLICATIONS}">Clear search</a>` : null}
</form>
${table('Applications', head, rows, q ? 'No application matches this search.' : 'No applications yet.')}
${pager(APPLICATIONS, q ? { q } : {}, page, hasNext)}`;
}
