import type { FastifyInstance } from 'fastify';

/** Placeholder: the External OAuth Applications issue fills this in. */
export default async function externalOauthApplicationsRoutes(_app: FastifyInstance) {}
