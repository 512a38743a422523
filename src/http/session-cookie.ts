import type { FastifyRequest } from 'fastify';

/**
 * The console's session cookie holds an ordinary access token (services/sessions.ts), so a console session
 * expires, is logged out and is revoked exactly as an API token is. It is `HttpOnly` (no script reads it),
 * `SameSite=Strict` (no other site's page can make the browser send it) and, over https, `Secure` with the
 * `__Host-` prefix (only this host, path /, never over plain http). The API itself never reads it: API
 * routes take the token from the Authorization header only, so the cookie cannot be used for CSRF on them.
 */
const PLAIN_NAME = 'eoa_console';
const SECURE_NAME = '__Host-eoa_console';

/** https when EOA_PUBLIC_URL says so, otherwise when the request came over https (trusted proxies included). */
export function isHttps(request: FastifyRequest): boolean {
  const configured = request.server.config.publicUrl;
  return configured ? configured.startsWith('https:') : request.protocol === 'https';
}

export function sessionCookieName(request: FastifyRequest): string {
  return isHttps(request) ? SECURE_NAME : PLAIN_NAME;
}

/** A cookie's value from the Cookie header, or null. Values this service sets are URL-safe base64. */
export function readCookie(request: FastifyRequest, name: string): string | null {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{1,512}$/.test(value) ? value : null;
    }
  }
  return null;
}

export function sessionToken(request: FastifyRequest): string | null {
  return readCookie(request, sessionCookieName(request));
}

/** A Set-Cookie value; `maxAgeS` 0 deletes the cookie. */
export function cookieHeader(request: FastifyRequest, name: string, value: string, options: { maxAgeS: number; path?: string }): string {
  const secure = isHttps(request);
  const path = name.startsWith('__Host-') ? '/' : (options.path ?? '/');
  return [`${name}=${value}`, `Path=${path}`, `Max-Age=${options.maxAgeS}`, 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])].join('; ');
}
