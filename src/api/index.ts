import type { FastifyInstance } from 'fastify';
import authRoutes from './auth.ts';
import usersRoutes from './users.ts';
import rolesRoutes from './roles.ts';
import externalOauthApplicationsRoutes from './external-oauth-applications.ts';
import auditEventsRoutes from './audit-events.ts';
import { authorizeRoutes } from './external-oauth-connect.ts';
import externalOauthTokensRoutes from './external-oauth-tokens.ts';

/** Everything under /api/4.0, one module per Looker resource (and one for our audit log). */
export default async function apiRoutes(app: FastifyInstance) {
  await app.register(authRoutes);
  await app.register(usersRoutes);
  await app.register(rolesRoutes);
  await app.register(externalOauthApplicationsRoutes);
  await app.register(auditEventsRoutes);
  await app.register(authorizeRoutes);
  await app.register(externalOauthTokensRoutes);
}
