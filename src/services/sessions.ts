import { randomBytes } from 'node:crypto';
import type { Repositories } from '../store/repositories.ts';
import { decoyHash, newToken, tokenDigest, verifySecret, type ScryptCost } from '../crypto/password.ts';
import { ApiError } from '../errors.ts';
import type { TokenCache } from './token-cache.ts';
import type { WriteBatcher } from '../store/write-batcher.ts';
import type { AuditEventInput, AuditService } from './audit.ts';
import { actingAs, type RequestContext } from './request-context.ts';

interface AccessToken {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/** Who a request acts for, as the auth hook resolves it from the access token. */
export interface Caller {
  userId: string;
  /** The user who logged in; differs from userId only for a token from `login/{user_id}`, its holder. */
  principalUserId: string;
  isAdmin: boolean;
  /** Has the built-in User role: what a non-admin needs to store its own OAuth tokens. */
  isUser: boolean;
  tokenHash: string;
}

/** A token from `login/{user_id}`: it acts as someone other than the admin who holds it. */
export const isSudo = (caller: Caller) => caller.userId !== caller.principalUserId;

interface SessionsOptions {
  tokenTtlS: number;
  tokenCache: TokenCache;
  writes: WriteBatcher;
  audit: AuditService;
  /** The cost of the app's hashes, for the decoy (password.ts); the production cost when unset. */
  scryptCost?: ScryptCost;
}

/** Logins, `login/{user_id}` and logouts are audit events, written with the session they create or end. */
export function sessionsService(repos: Repositories, options: SessionsOptions) {
  const { tokenCache, writes, audit } = options;

  /** A new session; `endsBy` caps its life (a `login/{user_id}` token never outlives the session that minted it). */
  async function issueToken(context: RequestContext, userId: string, principalUserId: string, credentialsId: string, event: AuditEventInput, endsBy = Infinity): Promise<AccessToken> {
    const token = newToken();
    const now = Date.now();
    const lifeMs = Math.min(options.tokenTtlS * 1000, endsBy - now);
    const expiresAt = new Date(now + lifeMs).toISOString();
    const session = {
      token_hash: tokenDigest(token),
      user_id: userId,
      principal_user_id: principalUserId,
      credentials_api3_id: credentialsId,
      expires_at: expiresAt,
    };
    await writes.run(async (tx) => {
      await repos.sessions.insert(session, tx);
      await audit.record(tx, context, event);
    });
    return { access_token: token, token_type: 'Bearer', expires_in: Math.floor(lifeMs / 1000) };
  }

  return {
    /**
     * Checks API credentials. Null for every kind of failure (unknown client_id, wrong secret, disabled
     * credentials or user), after the same scrypt work, so neither the answer nor its timing tells which.
     */
    async login(context: RequestContext, clientId: string, clientSecret: string): Promise<AccessToken | null> {
      const candidate = await repos.credentials.findForLogin(clientId);
      const hash = candidate?.secret_hash ?? (await decoyHash(options.scryptCost));
      const matches = await verifySecret(clientSecret, hash);
      if (!candidate || !matches || candidate.is_disabled || candidate.user_is_disabled) {
        audit.loginFailed(context, candidate?.id ?? null);
        return null;
      }
      // The request is not authenticated yet: the actor is the user the credentials belong to.
      const asUser = actingAs(context, { userId: candidate.user_id, principalUserId: candidate.user_id });
      return issueToken(asUser, candidate.user_id, candidate.user_id, candidate.id, { action: 'session.login', targetId: candidate.id });
    },

    /**
     * An admin's token that acts as another user; it ends when the admin's own session would, and lives
     * only while its holder could mint it again (enabled, credentials alive, Admin role: `findLive`).
     * The right is checked afresh here, not through the token cache. A `login/{user_id}` token cannot mint
     * another (nor can an admin "log in as" itself, which would mint a token indistinguishable from its own
     * session and so escape that rule): 403, as the admin route is no secret to an admin's token.
     */
    async loginAsUser(context: RequestContext, caller: Caller, targetUserId: string): Promise<AccessToken | null> {
      if (isSudo(caller)) throw new ApiError('forbidden', 'A token from login/{user_id} cannot log in as a user');
      if (targetUserId === caller.userId) throw new ApiError('forbidden', 'You are already logged in as yourself');
      const session = await repos.sessions.findLive(caller.tokenHash, new Date().toISOString());
      if (!session || !session.is_admin || session.user_id !== session.principal_user_id) return null;
      const target = await repos.users.findById(targetUserId);
      if (!target || target.is_disabled) return null;
      return issueToken(context, target.id, session.principal_user_id, session.credentials_api3_id, { action: 'session.login_user', targetId: target.id }, Date.parse(session.expires_at));
    },

    async logout(context: RequestContext, caller: Caller): Promise<void> {
      await writes.run(async (tx) => {
        if (await repos.sessions.delete(caller.tokenHash, tx)) await audit.record(tx, context, { action: 'session.logout', targetId: caller.userId });
      });
      await tokenCache.revoke(caller.tokenHash);
    },

    /**
     * Resolves a presented access token to its caller, or null when it is unknown, expired or revoked.
     * A hit in the token cache answers without the database; every revocation empties it on every
     * instance first (token-cache.ts), so a hit is as exact as the lookup. For a request that changes state
     * (`fenced`), a hit waits until this instance has heard every revocation committed before it.
     */
    async authenticate(token: string, options: { fenced?: boolean } = {}): Promise<Caller | null> {
      const tokenHash = tokenDigest(token);
      const cached = options.fenced ? await tokenCache.getFenced(tokenHash) : tokenCache.get(tokenHash);
      if (cached) return cached;
      const generation = tokenCache.generation();
      const session = await repos.sessions.findLive(tokenHash, new Date().toISOString());
      if (!session) return null;
      const caller: Caller = {
        userId: session.user_id,
        principalUserId: session.principal_user_id,
        isAdmin: session.is_admin,
        isUser: session.is_user,
        tokenHash,
      };
      tokenCache.set(tokenHash, caller, Date.parse(session.expires_at), generation);
      return caller;
    },

    async purgeExpired(): Promise<number> {
      return repos.sessions.deleteExpired(new Date().toISOString());
    },
  };
}


/** Looker-style API client ids: 20 URL-safe characters, no ambiguity with secrets. */
export function newClientId(): string {
  return randomBytes(15).toString('base64url');
}

export function newClientSecret(): string {
  return randomBytes(24).toString('base64url');
}
