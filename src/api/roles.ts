import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { FieldsQuery, errorResponses } from '../schemas/common.ts';
import { callerOf } from '../http/auth.ts';
import { presentRole } from './present.ts';

export default async function rolesRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/roles',
    {
      schema: {
        operationId: 'all_roles',
        tags: ['Role'],
        summary: 'Get All Roles',
        description: 'The built-in roles: Admin (everything) and User (its own OAuth user states).',
        querystring: Type.Object({
          fields: FieldsQuery,
          ids: Type.Optional(Type.String({ description: 'Optional comma-separated list of ids to get specific roles.' })),
          // There are no Looker support roles here, so asking for them changes nothing.
          get_all_support_roles: Type.Optional(Type.Boolean({ description: 'Get all Looker support roles (there are none here).' })),
        }),
        response: { 200: Type.Array(Type.Ref('Role')), ...errorResponses() },
      },
      config: { access: 'admin' },
    },
    async (request) => {
      const ids = request.query.ids?.split(',').map((s) => s.trim());
      const roles = await app.services.users.roles();
      return roles.filter((r) => !ids || ids.includes(r.id)).map((r) => presentRole(request, callerOf(request), r));
    },
  );
}
