import type { Kysely } from 'kysely';
import type { AuditEventRow, Database, Db } from './schema.ts';
import { preparedQuery } from './prepared-query.ts';
import { idString, isId, toIso } from './values.ts';

interface AuditEventFields {
  occurred_at: string;
  actor_user_id: string | null;
  principal_user_id: string | null;
  address: string | null;
  request_id: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  outcome: string;
  detail: string | null;
}

export interface AuditEventRecord extends AuditEventFields {
  id: string;
}

export interface AuditEventFilter {
  actor_user_id?: string;
  principal_user_id?: string;
  action?: string;
  target_type?: string;
  target_id?: string;
  /** ISO-8601 UTC bounds on occurred_at: `since` inclusive, `until` exclusive. */
  since?: string;
  until?: string;
  /** Keyset paging: only events with a smaller id (older). */
  before_id?: string;
}


function toRecord(row: AuditEventRow): AuditEventRecord {
  return {
    id: idString(row.id),
    occurred_at: toIso(row.occurred_at),
    actor_user_id: row.actor_user_id === null ? null : idString(row.actor_user_id),
    principal_user_id: row.principal_user_id === null ? null : idString(row.principal_user_id),
    address: row.address,
    request_id: row.request_id,
    action: row.action,
    target_type: row.target_type,
    target_id: row.target_id,
    outcome: row.outcome,
    detail: row.detail,
  };
}

export function auditEventsRepository(db: Kysely<Database>) {
  // Written beside every change, so compiled once (prepared-query.ts).
  const insertOne = preparedQuery(
    (
      occurredAt: string,
      actor: string | null,
      principal: string | null,
      address: string | null,
      requestId: string | null,
      action: string,
      targetType: string,
      targetId: string | null,
      outcome: string,
      detail: string | null,
    ) =>
      db.insertInto('audit_events').values({
        occurred_at: occurredAt,
        actor_user_id: actor,
        principal_user_id: principal,
        address,
        request_id: requestId,
        action,
        target_type: targetType,
        target_id: targetId,
        outcome,
        detail,
      }),
  );

  return {
    async insert(event: AuditEventFields, tx: Db = db): Promise<void> {
      await insertOne(
        tx,
        event.occurred_at,
        event.actor_user_id,
        event.principal_user_id,
        event.address,
        event.request_id,
        event.action,
        event.target_type,
        event.target_id,
        event.outcome,
        event.detail,
      );
    },

    /** Newest first (id descending); `before_id` continues after the last event of the previous page. */
    async list(filter: AuditEventFilter, limit: number, tx: Db = db): Promise<AuditEventRecord[]> {
      // An id filter that is not an id names no row (and PostgreSQL would reject it in a bigint comparison).
      for (const key of ['actor_user_id', 'principal_user_id', 'before_id'] as const) {
        if (filter[key] !== undefined && !isId(filter[key])) return [];
      }
      let query = tx.selectFrom('audit_events').selectAll().orderBy('id', 'desc').limit(limit);
      if (filter.before_id !== undefined) query = query.where('id', '<', filter.before_id);
      if (filter.actor_user_id !== undefined) query = query.where('actor_user_id', '=', filter.actor_user_id);
      if (filter.principal_user_id !== undefined) query = query.where('principal_user_id', '=', filter.principal_user_id);
      if (filter.action !== undefined) query = query.where('action', '=', filter.action);
      if (filter.target_type !== undefined) query = query.where('target_type', '=', filter.target_type);
      if (filter.target_id !== undefined) query = query.where('target_id', '=', filter.target_id);
      if (filter.since !== undefined) query = query.where('occurred_at', '>=', filter.since);
      if (filter.until !== undefined) query = query.where('occurred_at', '<', filter.until);
      return (await query.execute()).map(toRecord);
    },

    /**
     * Of the `limit` oldest events (by id, the primary key: no other index needed), deletes those before
     * `cutoff`; returns how many went. Fewer than `limit` means the oldest events left are young enough.
     */
    async purgeBefore(cutoff: string, limit: number, tx: Db = db): Promise<number> {
      const oldest = tx.selectFrom('audit_events').select('id').orderBy('id').limit(limit);
      const result = await tx.deleteFrom('audit_events').where('id', 'in', oldest).where('occurred_at', '<', cutoff).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
