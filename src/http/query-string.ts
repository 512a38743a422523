/** Names of the query parameters whose name or value was not valid percent-encoded UTF-8 (`%FF`, `%ED%A0%80`). */
export const UNDECODABLE = Symbol('undecodable query parameters');

type ParsedQuery = Record<string, string | string[]> & { [UNDECODABLE]?: string[] };

/**
 * A parsed query's object: no prototype chain to inherit from (its prototype is itself prototype-less), so
 * `__proto__` or `toString` is just a name. Built with `new`, unlike `Object.create(null)`, which V8 makes
 * a slow dictionary object: this one keeps a fast shape for every later read (the schema, the route).
 */
const EmptyQuery = function (this: object) {} as unknown as new () => ParsedQuery;
EmptyQuery.prototype = Object.create(null);

/**
 * The router's query string parser. fastify's default keeps a sequence it cannot decode as the raw text
 * (`?client_id=%FF` looked up the client_id "%FF"), so a malformed query string passed as a different,
 * well-formed one. Here such a parameter is noted under UNDECODABLE and the request is refused with a 400
 * (well-formed-text.ts). `+` is a space, a repeated name gives an array (a schema that wants one value then
 * refuses it), and the result inherits nothing, so `__proto__` is just a name.
 */
export function parseQueryString(text: string): ParsedQuery {
  const query = new EmptyQuery();
  if (text.length === 0) return query;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    const name = decode(rawName);
    const value = decode(rawValue);
    if (name === null || value === null) {
      const undecodable = (query[UNDECODABLE] ??= []);
      undecodable.push(name ?? rawName);
      continue;
    }
    const existing = query[name];
    query[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return query;
}

function decode(text: string): string | null {
  const spaced = text.includes('+') ? text.replace(/\+/g, ' ') : text;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return null;
  }
}
