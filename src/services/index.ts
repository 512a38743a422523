import type { Config } from '../config.ts';
import type { Store } from '../store/database.ts';
import type { Repositories } from '../store/repositories.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { sessionsService } from './sessions.ts';
import { usersService } from './users.ts';
import { externalOauthApplicationsService } from './external-oauth-applications.ts';

export function createServices(deps: { config: Config; store: Store; repos: Repositories; secretBox: SecretBox }) {
  return {
    sessions: sessionsService(deps.repos, { tokenTtlS: deps.config.tokenTtlS }),
    users: usersService(deps.repos, deps.store.engine),
    externalOauthApplications: externalOauthApplicationsService(deps.repos, deps.secretBox),
  };
}

export type Services = ReturnType<typeof createServices>;
