import type { FastifyInstance } from 'fastify';
import connectionsPages from './connections.ts';
import applicationsPages from './applications/index.ts';
import usersPages from './users/index.ts';
import rolesPages from './roles.ts';
import auditEventsPages from './audit-events.ts';

/**
 * The console's pages, one module per subject; each registers its routes under /console and adds its entry to
 * navigation.ts.
 */
export const CONSOLE_PAGES: Array<(app: FastifyInstance) => Promise<void>> = [connectionsPages, applicationsPages, usersPages, rolesPages, auditEventsPages];
