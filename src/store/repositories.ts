import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { usersRepository } from './users-repository.ts';
import { credentialsRepository } from './credentials-repository.ts';
import { sessionsRepository } from './sessions-repository.ts';
import { externalOauthApplicationsRepository } from './external-oauth-applications-repository.ts';
import { userStatesRepository } from './user-states-repository.ts';
import { auditEventsRepository } from './audit-events-repository.ts';
import { pendingAuthorizationsRepository } from './pending-authorizations-repository.ts';
import { tokenStateRepository } from './token-state-repository.ts';

/** Every repository, closing over one database handle. */
export function createRepositories(db: Kysely<Database>) {
  return {
    db,
    users: usersRepository(db),
    credentials: credentialsRepository(db),
    sessions: sessionsRepository(db),
    externalOauthApplications: externalOauthApplicationsRepository(db),
    userStates: userStatesRepository(db),
    auditEvents: auditEventsRepository(db),
    pendingAuthorizations: pendingAuthorizationsRepository(db),
    tokenStates: tokenStateRepository(db),
  };
}

export type Repositories = ReturnType<typeof createRepositories>;
