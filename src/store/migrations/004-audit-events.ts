import type { Kysely, Migration } from 'kysely';
import type { Engine } from '../database.ts';

/**
 * The audit log. No foreign keys on purpose: an event outlives the user, credentials or application it
 * names (deleting a user must not delete the record that they were deleted). Ids and targets are text
 * where they name something that may be gone; actor ids are the user ids of the time.
 */
export function auditEventsMigration(engine: Engine): Migration {
  const t = engine === 'postgres' ? ({ id: 'bigserial', ref: 'bigint', time: 'timestamptz' } as const) : ({ id: 'integer', ref: 'integer', time: 'text' } as const);
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('audit_events')
        .addColumn('id', t.id, (c) => (engine === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('occurred_at', t.time, (c) => c.notNull())
        .addColumn('actor_user_id', t.ref)
        .addColumn('principal_user_id', t.ref)
        .addColumn('address', 'text')
        .addColumn('request_id', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target_type', 'text', (c) => c.notNull())
        .addColumn('target_id', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('detail', 'text')
        .execute();
      // Newest first is `order by id desc`; the who / what / which filters each have an index that ends in
      // id, so such a page is an index range scan. Every index costs every change a little (bench/audit-cost.ts),
      // so time has none: ids follow time, a time range is read newest first and stops at `limit`, and the
      // retention purge walks the oldest ids.
      await db.schema.createIndex('audit_events_actor_idx').on('audit_events').columns(['actor_user_id', 'id']).execute();
      await db.schema.createIndex('audit_events_action_idx').on('audit_events').columns(['action', 'id']).execute();
      await db.schema.createIndex('audit_events_target_idx').on('audit_events').columns(['target_type', 'target_id', 'id']).execute();
    },
  };
}
