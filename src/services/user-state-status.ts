import type { TokenStatusRow } from '../store/token-state-repository.ts';

/**
 * A user state as the API shows it (`ExternalOauthUserStateStatus`): never its tokens, and a status that
 * is true at the moment of the answer, not only as last stored.
 */
type UserTokenStatus = 'active' | 'expired' | 'needs_reauth';

export interface UserStateStatus {
  user_id: string;
  oauth_application_id: string;
  status: UserTokenStatus;
  access_token_expires_at: string;
  refresh_token_expires_at: string | null;
  has_refresh_token: boolean;
  last_refreshed_at: string | null;
  last_error: string | null;
  updated_at: string;
}

/** The status of a state at `now`: `expired` is an access token past its time that the next read refreshes. */
function statusAt(row: TokenStatusRow, now = Date.now()): UserTokenStatus {
  if (row.status === 'needs_reauth') return 'needs_reauth';
  if (Date.parse(row.access_token_expires_at) > now) return 'active';
  const refreshable = row.has_refresh_token && (row.refresh_token_expires_at === null || Date.parse(row.refresh_token_expires_at) > now);
  return refreshable ? 'expired' : 'needs_reauth';
}

export function presentUserState(row: TokenStatusRow): UserStateStatus {
  const status = statusAt(row);
  // A state that needs reauth by its times alone says why, as the next read would record it.
  const derived = status === 'needs_reauth' && row.status !== 'needs_reauth' ? (row.has_refresh_token ? 'refresh_token_expired' : 'no_refresh_token') : null;
  return {
    user_id: row.user_id,
    oauth_application_id: row.oauth_application_id,
    status,
    access_token_expires_at: row.access_token_expires_at,
    refresh_token_expires_at: row.refresh_token_expires_at,
    has_refresh_token: row.has_refresh_token,
    last_refreshed_at: row.last_refreshed_at,
    last_error: derived ?? row.last_error,
    updated_at: row.updated_at,
  };
}
