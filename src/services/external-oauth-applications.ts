import type { Repositories } from '../store/repositories.ts';
import type { SecretBox } from '../crypto/secret-box.ts';

/** Placeholder: the External OAuth Applications issue fills this in. */
export function externalOauthApplicationsService(repos: Repositories, secretBox: SecretBox) {
  return { repos, secretBox };
}
