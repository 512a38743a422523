import type { Repositories } from '../store/repositories.ts';
import { secretAad, type SecretBox } from '../crypto/secret-box.ts';
import { invalid, notFound, type ValidationProblem } from '../errors.ts';
import { isForeignKeyViolation } from '../store/unique-violation.ts';
import type { CreateOAuthApplicationUserStateRequest } from '../schemas/external-oauth-applications.ts';
import type { Caller } from './sessions.ts';
import type { WriteBatcher } from '../store/write-batcher.ts';
import type { AuditService } from './audit.ts';
import type { RequestContext } from './request-context.ts';
import type { TokenColumn } from '../oauth/refresh.ts';

/** The row-bound additional data of a user's token: it opens only in its own (user, application) row. */
export function userStateTokenAad(userId: string, applicationId: string, column: TokenColumn): string {
  return secretAad('oauth_application_user_states', `${userId}:${applicationId}`, column);
}

interface UserTokens {
  access_token: string;
  access_token_expires_at: string;
  refresh_token: string | null;
  refresh_token_expires_at: string | null;
}

const DATE_FIELDS = ['access_token_expires_at', 'refresh_token_expires_at'] as const;

/** Stored times are UTC from year 1 to 9999: what PostgreSQL's timestamptz and ISO-8601 text both hold. */
const EARLIEST = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');
const storable = (value: string) => {
  const time = Date.parse(value);
  return time >= EARLIEST && time <= LATEST;
};

/**
 * What the date-time format lets through but no clock or store has (a leap second, a year past
 * JavaScript's range, year 0, an offset that moves the time past year 9999): the routes join these with
 * the schema's problems into one 422.
 */
export function userStateRuleProblems(body: unknown): ValidationProblem[] {
  if (typeof body !== 'object' || body === null) return [];
  const fields = body as Record<string, unknown>;
  return DATE_FIELDS.filter((field) => typeof fields[field] === 'string' && !storable(fields[field] as string)).map(
    (field) => ({ field, code: 'invalid' as const, message: 'Must be an ISO-8601 date-time, e.g. 2026-01-31T12:00:00Z.' }),
  );
}

const toUtc = (value: string) => new Date(value).toISOString();

/** A user state's audit target: the user id (digits only) first, so any client_id after the / is unambiguous. */
export function userStateTarget(userId: string, clientId: string): string {
  return `${userId}/${clientId}`;
}

/** Writes go through `writes` (group commit), like application creates: answered after their own COMMIT. */
export function userStatesService(repos: Repositories, secretBox: SecretBox, writes: WriteBatcher, audit: AuditService) {
  return {
    /**
     * Stores the user's tokens for an application, replacing any earlier ones (tokens rotate). An admin may
     * set anyone's; other users only their own, and another user's answers 404 like anything not theirs.
     */
    async set(context: RequestContext, caller: Caller, input: CreateOAuthApplicationUserStateRequest): Promise<{ user_id: string; oauth_application_id: string }> {
      const problems = userStateRuleProblems(input);
      if (problems.length > 0) throw invalid(problems);
      if (!caller.isAdmin && input.user_id !== caller.userId) throw notFound();
      const [user, app] = await Promise.all([
        repos.users.findById(input.user_id),
        repos.externalOauthApplications.findById(input.oauth_application_id),
      ]);
      if (!user || !app) throw notFound();
      const seal = (token: string, column: TokenColumn) => secretBox.seal(token, userStateTokenAad(user.id, app.id, column));
      try {
        const state = {
          user_id: user.id,
          oauth_application_id: app.id,
          access_token_sealed: seal(input.access_token, 'access_token'),
          access_token_expires_at: toUtc(input.access_token_expires_at),
          refresh_token_sealed: input.refresh_token == null ? null : seal(input.refresh_token, 'refresh_token'),
          refresh_token_expires_at: input.refresh_token_expires_at == null ? null : toUtc(input.refresh_token_expires_at),
        };
        await writes.run(async (tx) => {
          await repos.userStates.upsert(state, tx);
          await audit.record(tx, context, { action: 'user_state.set', targetId: userStateTarget(user.id, app.client_id) });
        });
      } catch (error) {
        // The user or the application was deleted between the look-up and the write.
        if (isForeignKeyViolation(error)) throw notFound();
        throw error;
      }
      return { user_id: user.id, oauth_application_id: app.id };
    },

    /** Which applications a user holds tokens for, and until when: presence and times, never a token. */
    summariesForUser: (userId: string) => repos.userStates.summariesForUser(userId),

    /** How many users hold tokens for an application: what deleting it takes with it. */
    countForApplication: (applicationId: string) => repos.userStates.countForApplication(applicationId),

    /** The tokens in the clear, for the OAuth flow; never for a response. Null when there is no state. */
    async openTokens(userId: string, applicationId: string): Promise<UserTokens | null> {
      const state = await repos.tokenStates.find({ user_id: userId, oauth_application_id: applicationId });
      if (!state) return null;
      const open = (sealed: string, column: TokenColumn) =>
        secretBox.open(sealed, userStateTokenAad(state.user_id, state.oauth_application_id, column));
      return {
        access_token: open(state.access_token_sealed, 'access_token'),
        access_token_expires_at: state.access_token_expires_at,
        refresh_token: state.refresh_token_sealed === null ? null : open(state.refresh_token_sealed, 'refresh_token'),
        refresh_token_expires_at: state.refresh_token_expires_at,
      };
    },
  };
}
