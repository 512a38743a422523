// What the bench sends the service: single calls for set-up (login, probes) and the request lists the
// phases hand autocannon, each request picking a random application or user from a sample.
import { randomBytes } from 'node:crypto';
import type { Options } from 'autocannon';
import type { Admin } from './processes.ts';

export const API = '/api/4.0';
export const APPS = `${API}/external_oauth_applications`;

/** The applications (and users' states) the phases pick from at random: one request is one random pick. */
export interface Sample {
  ids: string[];
  clientIds: string[];
}

export const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)];

export async function call(base: string, method: string, url: string, init: { token?: string; json?: unknown; form?: Record<string, string> } = {}) {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  } else if (init.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  }
  const response = await fetch(`${base}${url}`, { method, headers, body });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text.slice(0, 300)}`);
  return { text, bytes: Buffer.byteLength(text), json: text ? JSON.parse(text) : null };
}

export async function login(base: string, admin: Admin): Promise<string> {
  return (await call(base, 'POST', `${API}/login`, { form: { ...admin } })).json.access_token;
}

export function loginRequest(admin: Admin): Options['requests'] {
  return [{ method: 'POST', path: `${API}/login`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...admin }).toString() }];
}

export function listRequest(token: string, sample: Sample): Options['requests'] {
  return [{ method: 'GET', headers: { authorization: `Bearer ${token}` }, setupRequest: (req) => ({ ...req, path: `${APPS}?client_id=${encodeURIComponent(pick(sample.clientIds))}` }) }];
}

export function createRequest(token: string, runId: string): Options['requests'] {
  let n = 0;
  return [
    {
      method: 'POST',
      path: APPS,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      setupRequest: (req) => {
        n += 1;
        const id = `bench-${runId}-${n}`;
        return { ...req, body: JSON.stringify({ name: id, client_id: `${id}.apps.example.com`, client_secret: `secret-${id}-${randomBytes(8).toString('hex')}`, dialect_name: 'snowflake', tenant_id: null }) };
      },
    },
  ];
}

export function rotateSecretRequest(token: string, sample: Sample): Options['requests'] {
  return [{
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    setupRequest: (req) => ({ ...req, path: `${APPS}/${encodeURIComponent(pick(sample.clientIds))}`, body: JSON.stringify({ client_secret: randomBytes(18).toString('base64url') }) }),
  }];
}

export function setUserStateRequest(token: string, userId: string, sample: Sample): Options['requests'] {
  return [{
    method: 'POST',
    path: `${APPS}/user_state`,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    setupRequest: (req) => ({
      ...req,
      body: JSON.stringify({
        user_id: userId,
        oauth_application_id: pick(sample.ids),
        access_token: randomBytes(24).toString('base64url'),
        access_token_expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        refresh_token: randomBytes(24).toString('base64url'),
      }),
    }),
  }];
}

export function auditEventsRequest(token: string, query: string): Options['requests'] {
  return [{ method: 'GET', path: `${API}/audit_events?${query}`, headers: { authorization: `Bearer ${token}` } }];
}

/** A user's own-or-named access token read: `POST …/{client_id}/access_token`, picking a (user, application). */
export function tokenReadRequest(token: string, pairs: Array<{ userId: string | null; clientId: string }>): Options['requests'] {
  return [{
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    setupRequest: (req) => {
      const { userId, clientId } = pick(pairs);
      return { ...req, path: `${APPS}/${encodeURIComponent(clientId)}/access_token`, body: userId === null ? '{}' : JSON.stringify({ user_id: userId }) };
    },
  }];
}

/** The first page (100) of an application's user-state statuses. */
export function userStatesRequest(token: string, clientId: string): Options['requests'] {
  return [{ method: 'GET', path: `${APPS}/${encodeURIComponent(clientId)}/user_states?limit=100`, headers: { authorization: `Bearer ${token}` } }];
}
