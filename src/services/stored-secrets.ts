import type { Repositories } from '../store/repositories.ts';
import type { SealedCell } from '../store/sealed-values.ts';
import { clientSecretAad } from './external-oauth-applications.ts';
import { previousClientSecretAad } from './client-secret-rotation.ts';
import { userStateTokenAad } from './user-states.ts';
import { codeVerifierAad } from '../oauth/connect.ts';

/** One stored secret: where it lives, the additional data it was sealed with, and its sealed form. */
export type StoredSecret = SealedCell & {
  /** Names the row without anything secret in it: the client_id, or `user <id> / application <id>`. */
  row: string;
  aad: string;
  sealed: string;
};

/**
 * Every sealed secret in the store, a batch of at most `rowsPerBatch` rows at a time: application client
 * secrets, then user-state tokens, then the PKCE verifiers of pending authorizations. The one walk that both `doctor` (does every value open?) and
 * `keys rotate` (re-seal what is under an old key) use. Paged by primary key and read outside any
 * transaction, so a long walk holds no lock; a row inserted behind the cursor meanwhile was sealed by
 * the running service with its active key.
 */
export async function* storedSecrets(repos: Repositories, rowsPerBatch: number): AsyncGenerator<StoredSecret[]> {
  let afterId = '0';
  for (;;) {
    const apps = await repos.externalOauthApplications.sealedSecrets(afterId, rowsPerBatch);
    if (apps.length === 0) break;
    yield apps.flatMap((app): StoredSecret[] => [
      {
        column: 'external_oauth_applications.client_secret',
        key: { id: app.id },
        row: app.client_id,
        aad: clientSecretAad(app.client_id),
        sealed: app.client_secret_sealed,
      },
      // The secret a rotation replaced, while it is kept (client-secret-rotation.ts).
      ...(app.previous_client_secret_sealed === null
        ? []
        : [
            {
              column: 'external_oauth_applications.previous_client_secret' as const,
              key: { id: app.id },
              row: app.client_id,
              aad: previousClientSecretAad(app.client_id),
              sealed: app.previous_client_secret_sealed,
            },
          ]),
    ]);
    afterId = apps[apps.length - 1].id;
  }

  let after: { user_id: string; oauth_application_id: string } | null = null;
  for (;;) {
    const states = await repos.userStates.sealedTokens(after, rowsPerBatch);
    if (states.length === 0) break;
    yield states.flatMap((state) => {
      const key = { user_id: state.user_id, oauth_application_id: state.oauth_application_id };
      const row = `user ${key.user_id} / application ${key.oauth_application_id}`;
      const secrets: StoredSecret[] = [
        {
          column: 'oauth_application_user_states.access_token',
          key,
          row,
          aad: userStateTokenAad(key.user_id, key.oauth_application_id, 'access_token'),
          sealed: state.access_token_sealed,
        },
      ];
      if (state.refresh_token_sealed !== null) {
        secrets.push({
          column: 'oauth_application_user_states.refresh_token',
          key,
          row,
          aad: userStateTokenAad(key.user_id, key.oauth_application_id, 'refresh_token'),
          sealed: state.refresh_token_sealed,
        });
      }
      return secrets;
    });
    const last = states[states.length - 1];
    after = { user_id: last.user_id, oauth_application_id: last.oauth_application_id };
  }

  // PKCE verifiers of connects in flight (ten minutes each): re-sealed too, so a rotation that retires the
  // old key at once does not break a user halfway through signing in.
  let afterHash = '';
  for (;;) {
    const pending = await repos.pendingAuthorizations.sealedVerifiers(afterHash, rowsPerBatch);
    if (pending.length === 0) break;
    yield pending.map(
      (p): StoredSecret => ({
        column: 'oauth_pending_authorizations.code_verifier',
        key: { state_hash: p.state_hash },
        row: `pending authorization of user ${p.user_id} / application ${p.oauth_application_id}`,
        aad: codeVerifierAad(p.state_hash),
        sealed: p.code_verifier_sealed,
      }),
    );
    afterHash = pending[pending.length - 1].state_hash;
  }
}
