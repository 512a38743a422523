/** Conversions between what the engines return and what the rest of the service uses. */

/**
 * The one spelling of an id: canonical decimal, a positive integer without sign, leading zero, space,
 * fraction, exponent or non-ASCII digit. `01`, `+1`, `1.0`, ` 1`, `1e0` and `１` all name no row: the
 * engines would read several of them as 1, and a self-check comparing ids as text would then be fooled
 * (`PUT /users/01/roles` by user 1). Every id from a path, body or query is held to this pattern: path
 * parameters through `IdParam` (schemas/common.ts), everything else through `isId`. 18 digits stay below
 * the engines' 64-bit integer limit.
 */
export const ID_PATTERN = '^[1-9][0-9]{0,17}$';
const ID = new RegExp(ID_PATTERN);

/** Whether a value is an id in its one canonical spelling; anything else names no row ("not found"). */
export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID.test(value);
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
