import { Type, type Static } from 'typebox';
import { DateTime, Nullable } from './common.ts';
import { AUDIT_ACTIONS } from '../services/audit.ts';

/** Ours, not Looker's: the audit log (docs/audit-log.md). */

const actions = Object.keys(AUDIT_ACTIONS);
const targetTypes = [...new Set(Object.values(AUDIT_ACTIONS))];

export const AuditEvent = Type.Object(
  {
    id: Type.String({ description: 'Unique Id; later events have greater ids' }),
    occurred_at: DateTime,
    actor_user_id: Nullable(Type.String({ description: 'The user the request acted as; null for the service itself and for failed logins' })),
    principal_user_id: Nullable(Type.String({ description: 'The user who logged in: differs from actor_user_id under a login/{user_id} token' })),
    address: Nullable(Type.String({ description: 'The client address the request came from' })),
    request_id: Nullable(Type.String({ description: 'The request id (the x-request-id response header)' })),
    action: Type.Union(actions.map((a) => Type.Literal(a)), { description: 'What happened' }),
    target_type: Type.Union(targetTypes.map((t) => Type.Literal(t)), { description: 'The kind of thing it happened to' }),
    target_id: Nullable(
      Type.String({ description: 'Applications by client_id, users and API credentials by id, user states as <user_id>/<client_id>; null for an unknown client_id' }),
    ),
    outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
    detail: Nullable(
      Type.Object(
        {
          fields: Type.Optional(Type.Array(Type.String(), { description: 'Names of the fields a change set (never their values)' })),
          role_ids: Type.Optional(Type.Array(Type.String(), { description: 'The roles set' })),
          count: Type.Optional(Type.Integer({ description: 'Failed logins this summary stands for, beyond those recorded one by one' })),
          window_s: Type.Optional(Type.Integer({ description: 'The window they were counted in, in seconds' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'AuditEvent' },
);

const AuditEventPage = Type.Object(
  {
    events: Type.Array(Type.Ref('AuditEvent'), { description: 'Newest first' }),
    next_cursor: Nullable(Type.String({ description: 'Pass as `cursor` (with the same filters) for the next, older page; null on the last page' })),
  },
  { $id: 'AuditEventPage' },
);

export const AuditEventQuery = Type.Object({
  actor_user_id: Type.Optional(Type.String({ description: 'Events by this acting user' })),
  principal_user_id: Type.Optional(Type.String({ description: 'Events by this logged-in user (also when acting as another)' })),
  action: Type.Optional(Type.String({ description: 'Events of this action, e.g. external_oauth_application.rotate_secret' })),
  target_type: Type.Optional(Type.String({ description: 'Events on this kind of target' })),
  target_id: Type.Optional(Type.String({ description: 'Events on this target (with target_type, or alone)' })),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'Events at or after this time' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'Events before this time' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'Events per page (default 100)' })),
  cursor: Type.Optional(Type.String({ maxLength: 64, description: 'The next_cursor of the previous page' })),
});
export type AuditEventQuery = Static<typeof AuditEventQuery>;

export const SHARED_SCHEMAS = [AuditEvent, AuditEventPage];
