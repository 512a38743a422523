/**
 * Recognises a unique-index violation from either engine and names the column it was on, so services can
 * turn the race a database settled into a 409 that says which field is taken.
 *   SQLite:     code SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY, "UNIQUE constraint failed: table.column"
 *   PostgreSQL: code 23505, constraint "<table>_<column>_key" (the index names of our migrations); a
 *               primary key ("<table>_pkey") is named by its first column, from the error's detail
 *               "Key (a, b)=(…) already exists.", as SQLite's message names it first
 */
export function uniqueViolationColumn(error: unknown): string | null {
  if (typeof error !== 'object' || error === null) return null;
  const { code, message, constraint, table, detail } = error as {
    code?: string;
    message?: string;
    constraint?: string;
    table?: string;
    detail?: string;
  };
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    const match = /constraint failed: [^.]+\.([^,\s]+)/.exec(message ?? '');
    return match ? match[1] : '';
  }
  if (code === '23505') {
    const prefix = table ? `${table}_` : '';
    const name = constraint ?? '';
    if (name.endsWith('_pkey')) return /^Key \(([^,)]+)/.exec(detail ?? '')?.[1] ?? '';
    const bare = name.startsWith(prefix) ? name.slice(prefix.length) : name;
    return bare.replace(/_key$/, '');
  }
  return null;
}

/** A foreign key pointed at a row that is gone (e.g. deleted between check and insert). */
export function isForeignKeyViolation(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503';
}
