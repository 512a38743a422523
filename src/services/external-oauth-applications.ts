import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Repositories } from '../store/repositories.ts';
import {
  PROVIDER_COLUMNS,
  type ExternalOauthApplicationChanges,
  type ExternalOauthApplicationRecord,
  type ProviderColumns,
} from '../store/external-oauth-applications-repository.ts';
import { providerSettingProblems } from '../oauth/provider.ts';
import { secretAad, type SecretBox } from '../crypto/secret-box.ts';
import { conflict, invalid, notFound, type ValidationProblem } from '../errors.ts';
import { uniqueViolationColumn } from '../store/unique-violation.ts';
import type { WriteBatcher } from '../store/write-batcher.ts';
import type { AuditService } from './audit.ts';
import type { RequestContext } from './request-context.ts';
import type {
  CreateExternalOauthApplicationBody,
  UpdateExternalOauthApplicationBody,
} from '../schemas/external-oauth-applications.ts';
import { previousSecretView, rotatedSecretColumns } from './client-secret-rotation.ts';

/** An application as the service hands it out: everything but the sealed secret. */
export type ExternalOauthApplicationView = Omit<
  ExternalOauthApplicationRecord,
  'client_secret_sealed' | 'previous_client_secret_sealed' | 'previous_client_secret_expires_at'
> &
  ReturnType<typeof previousSecretView>;

/** The row-bound additional data of a client secret: a ciphertext copied to another app does not open. */
export function clientSecretAad(clientId: string): string {
  return secretAad('external_oauth_applications', clientId, 'client_secret');
}

const DIALECT_NAME = /^[a-z0-9_]+$/;

/**
 * The rules of an application body that its schema does not carry. Takes the body as received, possibly
 * with fields of the wrong type (the schema reports those), so each rule looks only at a string: the
 * routes join these problems with the schema's into one 422.
 */
export function applicationRuleProblems(body: unknown, pathClientId?: string, options: ApplicationRuleOptions = {}): ValidationProblem[] {
  if (typeof body !== 'object' || body === null) return [];
  const { name, dialect_name, client_id } = body as Record<string, unknown>;
  const problems: ValidationProblem[] = [];
  if (typeof name === 'string' && name.trim() === '') {
    problems.push({ field: 'name', code: 'invalid', message: 'Must not be blank.' });
  }
  if (typeof dialect_name === 'string' && !DIALECT_NAME.test(dialect_name)) {
    problems.push({
      field: 'dialect_name',
      code: 'invalid',
      message: 'Must be a dialect name of lower-case letters, digits and _, such as snowflake or bigquery_standard_sql.',
    });
  }
  if (pathClientId !== undefined && typeof client_id === 'string' && client_id !== pathClientId) {
    problems.push({ field: 'client_id', code: 'invalid', message: 'Must equal the client_id in the path: a client_id cannot be changed.' });
  }
  problems.push(...providerSettingProblems(body as Record<string, unknown>, options.allowInsecureProviders ?? false));
  return problems;
}

export interface ApplicationRuleOptions {
  /** EOA_ALLOW_INSECURE_PROVIDERS: plain http provider URLs beyond loopback hosts. */
  allowInsecureProviders?: boolean;
}

/** The provider fields a body sets: undefined leaves one as it is, null clears it. */
function providerChanges(input: Partial<Record<keyof ProviderColumns, string | null | undefined>>): Partial<ProviderColumns> {
  return Object.fromEntries(PROVIDER_COLUMNS.filter((c) => input[c] !== undefined).map((c) => [c, input[c]]));
}

function assertValid(problems: ValidationProblem[]) {
  if (problems.length > 0) throw invalid(problems);
}

/** The database settled a race on a unique index; say which field lost it. */
function taken(error: unknown) {
  const column = uniqueViolationColumn(error);
  if (column === 'client_id') return conflict('An External OAuth Application with this client_id already exists');
  if (column === 'name') return conflict('An External OAuth Application with this name already exists');
  return null;
}

/**
 * Field by field, not `{ ...rest }`: a rest copy and two spreads made this one of the list's larger costs,
 * and an object literal of fixed shape is what V8 builds fastest.
 */
function view(record: ExternalOauthApplicationRecord): ExternalOauthApplicationView {
  const { has_previous_secret, previous_secret_expires_at } = previousSecretView(record);
  return {
    id: record.id,
    name: record.name,
    client_id: record.client_id,
    tenant_id: record.tenant_id,
    dialect_name: record.dialect_name,
    bi_directional_data_access: record.bi_directional_data_access,
    provider_url: record.provider_url,
    authorization_endpoint: record.authorization_endpoint,
    token_endpoint: record.token_endpoint,
    revocation_endpoint: record.revocation_endpoint,
    issuer: record.issuer,
    scopes: record.scopes,
    token_endpoint_auth_method: record.token_endpoint_auth_method,
    created_at: record.created_at,
    has_previous_secret,
    previous_secret_expires_at,
  };
}

/** Rows per query when the whole list is streamed: memory stays flat whatever the table holds. */
const STREAM_PAGE = 1000;

/** Creates and updates go through `writes` (group commit): answered after their own COMMIT, one 409 each. */
/** Each change writes its audit event in the same write (savepoint) as the change itself. */
export function externalOauthApplicationsService(
  repos: Repositories,
  secretBox: SecretBox,
  writes: WriteBatcher,
  audit: AuditService,
  rules: ApplicationRuleOptions = {},
  rotationOptions: { secretOverlapS: number } = { secretOverlapS: 0 },
) {
  const sealClientSecret = (clientId: string, secret: string) => secretBox.seal(secret, clientSecretAad(clientId));

  /** A new client secret is its own event (rotations are what an auditor looks for); other fields another. */
  async function recordUpdate(tx: Transaction<Database>, context: RequestContext, clientId: string, changed: string[]) {
    const fields = changed.filter((f) => f !== 'client_secret_sealed');
    if (fields.length > 0 || changed.length === 0) {
      await audit.record(tx, context, { action: 'external_oauth_application.update', targetId: clientId, detail: { fields } });
    }
    if (changed.includes('client_secret_sealed')) await audit.record(tx, context, { action: 'external_oauth_application.rotate_secret', targetId: clientId });
  }

  return {
    async list(filter: { name?: string; client_id?: string; limit?: number; offset?: number }): Promise<ExternalOauthApplicationView[]> {
      return (await repos.externalOauthApplications.list(filter)).map(view);
    },

    /**
     * Every application in id order (after skipping `offset`, at most `limit`), fetched a page at a time by
     * key. The first page is read before this resolves, so a failing database is a plain error, not a cut
     * response. Each page is its own query, so a long walk holds no lock and no snapshot: an application
     * created or deleted meanwhile may or may not appear, but none appears twice and the order holds.
     */
    async stream(options: { limit?: number; offset?: number } = {}): Promise<AsyncIterable<ExternalOauthApplicationView>> {
      const limit = options.limit ?? Number.POSITIVE_INFINITY;
      const first = await repos.externalOauthApplications.list({ limit: Math.min(STREAM_PAGE, limit), offset: options.offset ?? 0 });
      return (async function* pages() {
        let page = first;
        let remaining = limit;
        while (page.length > 0) {
          for (const record of page) yield view(record);
          remaining -= page.length;
          if (page.length < STREAM_PAGE || remaining <= 0) return;
          page = await repos.externalOauthApplications.list({ after_id: page[page.length - 1].id, limit: Math.min(STREAM_PAGE, remaining) });
        }
      })();
    },

    /** The secret is sealed before the insert; the unique indexes decide between concurrent creates. */
    async create(context: RequestContext, input: CreateExternalOauthApplicationBody): Promise<ExternalOauthApplicationView> {
      assertValid(applicationRuleProblems(input, undefined, rules));
      try {
        const fields = {
          name: input.name.trim(),
          client_id: input.client_id,
          client_secret_sealed: sealClientSecret(input.client_id, input.client_secret),
          tenant_id: input.tenant_id ?? null,
          dialect_name: input.dialect_name ?? null,
          bi_directional_data_access: input.bi_directional_data_access ?? null,
          ...providerChanges(input),
        };
        const created = await writes.run(async (tx) => {
          const record = await repos.externalOauthApplications.insert(fields, tx);
          await audit.record(tx, context, { action: 'external_oauth_application.create', targetId: record.client_id });
          return record;
        });
        return view(created);
      } catch (error) {
        throw taken(error) ?? error;
      }
    },

    /** Partial update; fields left out keep their value. Sending `client_secret` rotates it. */
    async update(context: RequestContext, clientId: string, input: UpdateExternalOauthApplicationBody): Promise<ExternalOauthApplicationView> {
      assertValid(applicationRuleProblems(input, clientId, rules));
      const changes: ExternalOauthApplicationChanges = {
        ...(input.name === undefined ? {} : { name: input.name.trim() }),
        ...(input.client_secret === undefined ? {} : { client_secret_sealed: sealClientSecret(clientId, input.client_secret) }),
        ...(input.tenant_id === undefined ? {} : { tenant_id: input.tenant_id }),
        ...(input.dialect_name === undefined ? {} : { dialect_name: input.dialect_name }),
        ...(input.bi_directional_data_access === undefined ? {} : { bi_directional_data_access: input.bi_directional_data_access }),
        ...providerChanges(input),
      };
      try {
        const updated = await writes.run(async (tx) => {
          // The secret being replaced stays usable as a fallback for the overlap (client-secret-rotation.ts).
          // Read in this transaction; two PATCHes racing on PostgreSQL both keep the secret from before them.
          const current = input.client_secret === undefined ? null : await repos.externalOauthApplications.findByClientId(clientId, tx);
          const rotation =
            current && secretBox.open(current.client_secret_sealed, clientSecretAad(clientId)) !== input.client_secret
              ? rotatedSecretColumns(secretBox, current, rotationOptions.secretOverlapS)
              : {};
          const record = await repos.externalOauthApplications.update(clientId, { ...changes, ...rotation }, tx);
          if (record) await recordUpdate(tx, context, record.client_id, Object.keys(changes));
          return record;
        });
        if (!updated) throw notFound();
        return view(updated);
      } catch (error) {
        throw taken(error) ?? error;
      }
    },

    /** The application's user states go with it (ON DELETE CASCADE, in the same statement). */
    async delete(context: RequestContext, clientId: string): Promise<void> {
      const deleted = await writes.run(async (tx) => {
        const done = await repos.externalOauthApplications.delete(clientId, tx);
        if (done) await audit.record(tx, context, { action: 'external_oauth_application.delete', targetId: clientId });
        return done;
      });
      if (!deleted) throw notFound();
    },

    /**
     * The client secret in the clear, for the OAuth flow that talks to the external system; never for a
     * response. Null when no application has that client_id; throws SecretBoxError when it does not open.
     */
    async openClientSecret(clientId: string): Promise<string | null> {
      const app = await repos.externalOauthApplications.findByClientId(clientId);
      return app ? secretBox.open(app.client_secret_sealed, clientSecretAad(app.client_id)) : null;
    },
  };
}

