/** Conversions between what the engines return and what the rest of the service uses. */

/**
 * Ids are positive integers. Anything else names no row, and PostgreSQL would reject it in a bigint
 * comparison, so repositories answer "not found" for it without asking the database.
 */
export function isId(id: string): boolean {
  return /^\d{1,18}$/.test(id);
}

export function idString(value: string | number | bigint): string {
  return String(value);
}

export function toBool(value: boolean | number): boolean {
  return value === true || value === 1;
}

export function toNullableBool(value: boolean | number | null): boolean | null {
  return value === null ? null : toBool(value);
}

/** SQLite binds no booleans; PostgreSQL reads '1'/'0' as booleans, so 0/1 works for both. */
export function fromBool(value: boolean): number {
  return value ? 1 : 0;
}

export function fromNullableBool(value: boolean | null | undefined): number | null {
  return value === null || value === undefined ? null : fromBool(value);
}

/** ISO-8601 UTC with milliseconds, the one time format stored and answered (writes normalise to it). */
export function toIso(value: string | Date): string {
  return typeof value === 'string' ? value : value.toISOString();
}

export function toNullableIso(value: string | Date | null): string | null {
  return value === null ? null : toIso(value);
}

export function nowIso(): string {
  return new Date().toISOString();
}
