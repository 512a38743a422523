import type { FastifyInstance } from 'fastify';
import type { ValidationProblem } from '../../errors.ts';
import { AUDIT_ACTIONS, decodeCursor, type AuditEvent } from '../../services/audit.ts';
import { html, type Html } from '../html.ts';
import { formatTime, layout, pageContext, sendPage, table } from '../layout.ts';
import { errorSummary, noErrors, textField, toFieldErrors, type FieldErrors } from '../forms.ts';
import { consoleRoute } from '../routes.ts';

/**
 * Admins: the audit log (the API's GET /audit_events, through the same service), newest first, filtered by
 * actor, action, target and a time range as a GET form, and paged by the service's cursor.
 */

const PAGE_SIZE = 50;
const PATH = '/console/audit-events';

const LABELS: Record<string, string> = {
  actor_user_id: 'Actor (user ID)',
  action: 'Action',
  target_id: 'Target',
  since: 'From',
  until: 'Until',
  cursor: 'Page',
};

const FILTERS = ['actor_user_id', 'action', 'target_id', 'since', 'until'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

const TIME_HINT = 'ISO-8601 in UTC, e.g. 2026-01-31T12:00:00Z';

function timeBound(field: 'since' | 'until', value: string, problems: ValidationProblem[]): string | undefined {
  if (value === '') return undefined;
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    problems.push({ field, code: 'invalid', message: `Must be a date and time, ${TIME_HINT}.` });
    return undefined;
  }
  return new Date(time).toISOString();
}

export default async function auditEventsPages(app: FastifyInstance) {
  app.get('/audit-events', consoleRoute('admin'), async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const field = (name: string) => (typeof query[name] === 'string' ? (query[name] as string).trim().slice(0, 255) : '');
    const filters = Object.fromEntries(FILTERS.map((f) => [f, field(f)])) as Filters;
    const cursor = field('cursor');
    const problems: ValidationProblem[] = [];
    if (filters.actor_user_id !== '' && !/^\d{1,19}$/.test(filters.actor_user_id)) problems.push({ field: 'actor_user_id', code: 'invalid', message: 'Must be a user ID (digits).' });
    if (filters.action !== '' && !Object.hasOwn(AUDIT_ACTIONS, filters.action)) problems.push({ field: 'action', code: 'invalid', message: 'Must be one of the listed actions.' });
    const since = timeBound('since', filters.since, problems);
    const until = timeBound('until', filters.until, problems);
    const beforeId = cursor === '' ? undefined : decodeCursor(cursor);
    if (beforeId === null) problems.push({ field: 'cursor', code: 'invalid', message: 'This page link is not valid: start again from the first page.' });
    const ctx = await pageContext(request);
    const errors = toFieldErrors(problems);
    if (problems.length > 0) return sendPage(reply, layout(ctx, { title: 'Audit log', body: view(filters, errors, [], null, cursor !== '') }), 422);

    const page = await app.services.audit.page(
      {
        ...(filters.actor_user_id ? { actor_user_id: filters.actor_user_id } : {}),
        ...(filters.action ? { action: filters.action } : {}),
        ...(filters.target_id ? { target_id: filters.target_id } : {}),
        since,
        until,
        before_id: beforeId ?? undefined,
      },
      PAGE_SIZE,
    );
    const events: AuditEvent[] = [];
    for await (const event of page.events) events.push(event);
    return sendPage(reply, layout(ctx, { title: 'Audit log', body: view(filters, noErrors(), events, page.nextCursor(), cursor !== '') }));
  });
}

function view(filters: Filters, errors: FieldErrors, events: AuditEvent[], nextCursor: string | null, paged: boolean): Html {
  const head = html`<tr><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Outcome</th><th scope="col">Address</th></tr>`;
  const rows = events.map(
    (e) => html`<tr>
<td>${formatTime(e.occurred_at)}</td>
<td>${e.actor_user_id === null ? '' : `User ${e.actor_user_id}`}${e.principal_user_id !== null && e.principal_user_id !== e.actor_user_id ? ` (as user ${e.principal_user_id})` : ''}</td>
<td><code>${e.action}</code></td>
<td>${e.target_id === null ? '' : html`<code>${e.target_id}</code>`}</td>
<td>${e.outcome}</td>
<td>${e.address ?? ''}</td>
</tr>`,
  );
  const params = Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== ''));
  const actionError = errors.get('action');
  return html`${errorSummary(errors, LABELS)}
<form method="get" action="${PATH}" class="filters stack" novalidate>
${textField({ name: 'actor_user_id', label: LABELS.actor_user_id, value: filters.actor_user_id, maxlength: 19 }, errors)}
<div class="field${actionError ? ' has-error' : ''}">
  <label for="field-action">${LABELS.action}</label>
  ${actionError ? html`<p class="field-error" id="error-action">${actionError.join(' ')}</p>` : null}
  <select id="field-action" name="action"${actionError ? html` aria-invalid="true" aria-describedby="error-action"` : null}>
  <option value="">Any action</option>
  ${Object.keys(AUDIT_ACTIONS).map((a) => html`<option value="${a}"${a === filters.action ? html` selected` : null}>${a}</option>`)}
  </select>
</div>
${textField({ name: 'target_id', label: LABELS.target_id, value: filters.target_id, maxlength: 255, hint: 'Exactly: a client ID, a user ID, or a user state as user_id/client_id.' }, errors)}
${textField({ name: 'since', label: LABELS.since, value: filters.since, hint: `${TIME_HINT} (inclusive)` }, errors)}
${textField({ name: 'until', label: LABELS.until, value: filters.until, hint: `${TIME_HINT} (exclusive)` }, errors)}
<div class="actions"><button type="submit">Filter</button>
${Object.keys(params).length > 0 ? html`<a href="${PATH}">Clear filters</a>` : null}</div>
</form>
${errors.size > 0 ? null : table('Audit events', head, rows, 'No event matches these filters.')}
${
  paged || nextCursor
    ? html`<nav class="pager" aria-label="Pages">
${paged ? html`<a href="${PATH}?${String(new URLSearchParams(params))}">Newest events</a>` : null}
${nextCursor ? html`<a href="${PATH}?${String(new URLSearchParams({ ...params, cursor: nextCursor }))}" rel="next">Older events</a>` : null}
</nav>`
    : null
}`;
}
