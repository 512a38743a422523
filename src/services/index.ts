import type { Config } from '../config.ts';
import type { Store } from '../store/database.ts';
import type { Repositories } from '../store/repositories.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { sessionsService } from './sessions.ts';
import { TokenCache } from './token-cache.ts';
import { usersService } from './users.ts';
import { externalOauthApplicationsService } from './external-oauth-applications.ts';
import { userStatesService } from './user-states.ts';
import { createWriteBatcher } from '../store/write-batcher.ts';

export function createServices(deps: { config: Config; store: Store; repos: Repositories; secretBox: SecretBox }) {
  // One cache per process, shared by the service that fills it and the one whose changes revoke access.
  const tokenCache = new TokenCache(deps.config.tokenCache);
  // Group commit for the hot writes (store/write-batcher.ts); exposed so tests can see batches form.
  const writes = createWriteBatcher(deps.store.db, deps.store.engine, { maxBatch: deps.config.writeBatchMax });
  return {
    writes,
    sessions: sessionsService(deps.repos, { tokenTtlS: deps.config.tokenTtlS, tokenCache }),
    users: usersService(deps.repos, deps.store.engine, tokenCache),
    externalOauthApplications: externalOauthApplicationsService(
      deps.repos,
      deps.secretBox,
      writes,
      { allowInsecureProviders: deps.config.oauth.allowInsecureProviders },
      { secretOverlapS: deps.config.tokens.secretOverlapS },
    ),
    userStates: userStatesService(deps.repos, deps.secretBox, writes),
  };
}

export type Services = ReturnType<typeof createServices>;
