import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import { originOf } from '../config.ts';
import { publicBase } from '../http/public-url.ts';
import { cookieHeader, isHttps, readCookie, sessionToken } from '../http/session-cookie.ts';

/**
 * CSRF defence of the console, in two independent layers, both checked on every POST:
 *  1. where the request came from: a browser's `Sec-Fetch-Site` must say `same-origin`, and an `Origin`
 *     header must be this service's own origin;
 *  2. a synchronizer token in every form: an HMAC keyed with the session token (which lives only in the
 *     HttpOnly cookie), so it is bound to the session, needs no server-side storage (any instance checks
 *     it), dies with the session, and reveals nothing about the token. The sign-in form has no session
 *     yet: its token is bound the same way to a random pre-session cookie set with the form.
 * The session cookie is also SameSite=Strict, so another site cannot make the browser send it at all.
 */
const SIGN_IN_COOKIE = 'eoa_console_signin';
const SIGN_IN_COOKIE_MAX_AGE_S = 3600;

function derive(key: string, purpose: 'session' | 'sign-in'): string {
  return createHmac('sha256', key).update(`external-oauth-apps console csrf: ${purpose}`).digest('base64url');
}

/** The token a signed-in page puts in its forms; null without a session cookie. */
export function sessionCsrfToken(request: FastifyRequest): string | null {
  const token = sessionToken(request);
  return token === null ? null : derive(token, 'session');
}

function signInCookieName(request: FastifyRequest): string {
  return isHttps(request) ? `__Host-${SIGN_IN_COOKIE}` : SIGN_IN_COOKIE;
}

/**
 * The sign-in form's token, and the Set-Cookie that binds it when the browser has no pre-session cookie yet
 * (a reload keeps the one it has, so two open sign-in tabs both work).
 */
export function signInCsrf(request: FastifyRequest): { token: string; setCookie: string | null } {
  const existing = readCookie(request, signInCookieName(request));
  const key = existing ?? randomBytes(32).toString('base64url');
  const setCookie = existing ? null : cookieHeader(request, signInCookieName(request), key, { maxAgeS: SIGN_IN_COOKIE_MAX_AGE_S, path: '/console' });
  return { token: derive(key, 'sign-in'), setCookie };
}

export function clearSignInCookie(request: FastifyRequest): string {
  return cookieHeader(request, signInCookieName(request), '', { maxAgeS: 0, path: '/console' });
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class CsrfError extends ApiError {
  constructor(readonly reason: 'origin' | 'token') {
    super('forbidden', reason === 'origin' ? 'This form was sent from another site.' : 'This form has expired or did not come from this console.');
  }
}

/** Layer 1: refuses a request a browser marks as coming from another site or origin. */
export function checkOrigin(request: FastifyRequest): void {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') throw new CsrfError('origin');
  const origin = request.headers.origin;
  // `Origin: null`, or anything that is not an http(s) origin, matches nothing.
  if (origin !== undefined && originOf(origin) !== publicOrigin(request)) throw new CsrfError('origin');
}

function publicOrigin(request: FastifyRequest): string {
  return new URL(publicBase(request, request.server.config.publicUrl)).origin;
}

/** Layer 2: the form's `_csrf` field must be the token of this session (or of this sign-in form). */
export function checkToken(request: FastifyRequest, signingIn: boolean): void {
  const body = request.body as Record<string, unknown> | undefined;
  const given = typeof body?._csrf === 'string' ? body._csrf : null;
  const key = signingIn ? readCookie(request, signInCookieName(request)) : sessionToken(request);
  if (given === null || key === null || !same(given, derive(key, signingIn ? 'sign-in' : 'session'))) throw new CsrfError('token');
}
