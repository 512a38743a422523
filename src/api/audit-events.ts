import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponses } from '../schemas/common.ts';
import { AuditEvent, AuditEventQuery } from '../schemas/audit-events.ts';
import { badRequest, type ValidationProblem } from '../errors.ts';
import { decodeCursor } from '../services/audit.ts';
import { jsonArray } from './json-stream.ts';

const DEFAULT_LIMIT = 100;

/** Times are compared as stored (ISO-8601 UTC), so a bound with an offset is normalised first. */
function timeBound(field: 'since' | 'until', value: string | undefined, problems: ValidationProblem[]): string | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    problems.push({ field, code: 'invalid', message: 'Must be an ISO-8601 date-time, e.g. 2026-01-31T12:00:00Z.' });
    return undefined;
  }
  return new Date(time).toISOString();
}

export default async function auditEventsRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/audit_events',
    {
      schema: {
        operationId: 'all_audit_events',
        tags: ['Audit'],
        summary: 'Get Audit Events',
        description:
          'Ours, not Looker\'s. Every change and every login, newest first, filtered by any of the query parameters (exact matches, ' +
          'and a time range), a page at a time: pass `next_cursor` back as `cursor` with the same filters. Admin only.',
        querystring: AuditEventQuery,
        response: { 200: Type.Ref('AuditEventPage'), ...errorResponses() },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => {
      const { cursor, limit, since, until, ...filters } = request.query;
      const problems: ValidationProblem[] = [];
      const before_id = cursor === undefined ? undefined : decodeCursor(cursor);
      if (before_id === null) problems.push({ field: 'cursor', code: 'invalid', message: 'Must be the next_cursor of an earlier page.' });
      const range = { since: timeBound('since', since, problems), until: timeBound('until', until, problems) };
      // A query string's problems are a 400, as everywhere (http/error-handler.ts): Looker has 422 for bodies only.
      if (problems.length > 0) throw badRequest(`Invalid query string. ${problems.map((p) => `${p.field}: ${p.message}`).join(' ')}`);
      const page = await app.services.audit.page({ ...filters, ...range, before_id: before_id ?? undefined }, limit ?? DEFAULT_LIMIT);
      // A page may be large: streamed, each event through the same response schema.
      const serialize = reply.compileSerializationSchema(AuditEvent as unknown as Record<string, unknown>);
      reply.type('application/json; charset=utf-8');
      const close = () => `,"next_cursor":${JSON.stringify(page.nextCursor())}}`;
      return reply.send(Readable.from(jsonArray(page.events, (event) => serialize({ ...event }), { open: '{"events":', close })));
    },
  );
}
