import { secretAad, type SecretBox } from '../crypto/secret-box.ts';
import { ProviderError } from '../oauth/provider-errors.ts';
import { clientSecretAad } from './external-oauth-applications.ts';

/**
 * Zero-downtime rotation of an application's client secret. The admin registers a second secret at the
 * provider (Snowflake: OAUTH_CLIENT_SECRET_2), PATCHes it here, and retires the old one at the provider
 * later. Between the PATCH and the moment the provider learns the new secret, the previous one keeps
 * working: a call the provider refuses with `invalid_client` under the current secret is tried once more
 * with the previous one, for `EOA_SECRET_OVERLAP_S` after the PATCH. Both are sealed, each with additional
 * data naming its own column, so neither can be swapped into the other's place.
 */

/** The row-bound additional data of the previous client secret. */
export function previousClientSecretAad(clientId: string): string {
  return secretAad('external_oauth_applications', clientId, 'previous_client_secret');
}

/** The stored form of an application's secrets, as the repository reads them. */
interface SealedClientSecrets {
  client_id: string;
  client_secret_sealed: string;
  previous_client_secret_sealed: string | null;
  previous_client_secret_expires_at: string | null;
}

export interface ClientSecrets {
  current: string;
  /** Null when none is held or its overlap has ended. */
  previous: string | null;
}

/** True while the previous secret is still to be tried. */
function previousSecretLive(app: Pick<SealedClientSecrets, 'previous_client_secret_sealed' | 'previous_client_secret_expires_at'>, now = Date.now()): boolean {
  return (
    app.previous_client_secret_sealed !== null &&
    app.previous_client_secret_expires_at !== null &&
    Date.parse(app.previous_client_secret_expires_at) > now
  );
}

/** What a response says about the previous secret: whether one is held, and until when (never the secret). */
export function previousSecretView(app: Pick<SealedClientSecrets, 'previous_client_secret_sealed' | 'previous_client_secret_expires_at'>) {
  const live = previousSecretLive(app);
  return { has_previous_secret: live, previous_secret_expires_at: live ? app.previous_client_secret_expires_at : null };
}

export function openClientSecrets(secretBox: SecretBox, app: SealedClientSecrets): ClientSecrets {
  return {
    current: secretBox.open(app.client_secret_sealed, clientSecretAad(app.client_id)),
    previous: previousSecretLive(app) ? secretBox.open(app.previous_client_secret_sealed!, previousClientSecretAad(app.client_id)) : null,
  };
}

/**
 * The columns a PATCH of `client_secret` writes besides the new secret: the secret it replaces, re-sealed
 * as the previous one, and the end of its overlap. With an overlap of 0 nothing is kept.
 */
export function rotatedSecretColumns(secretBox: SecretBox, app: SealedClientSecrets, overlapS: number, now = Date.now()) {
  if (overlapS === 0) return { previous_client_secret_sealed: null, previous_client_secret_expires_at: null };
  const replaced = secretBox.open(app.client_secret_sealed, clientSecretAad(app.client_id));
  return {
    previous_client_secret_sealed: secretBox.seal(replaced, previousClientSecretAad(app.client_id)),
    previous_client_secret_expires_at: new Date(now + overlapS * 1000).toISOString(),
  };
}

/**
 * Runs `call` with the current secret and, only if the provider refuses the client (`invalid_client`), once
 * more with the previous one. Any other outcome is the answer: a refused refresh token must not be sent
 * twice, but a client the provider did not authenticate never reached the grant.
 */
export async function withSecretFallback<T>(secrets: ClientSecrets, call: (secret: string) => Promise<T>): Promise<T> {
  try {
    return await call(secrets.current);
  } catch (error) {
    if (secrets.previous === null || !(error instanceof ProviderError) || error.code !== 'invalid_client') throw error;
    return call(secrets.previous);
  }
}
