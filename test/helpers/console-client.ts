import type { FastifyInstance } from 'fastify';
import { auditResponse, auditSecret } from './audit.ts';

/**
 * A browser-like client of the web console for tests: a cookie jar, urlencoded forms, no redirects
 * followed, and the CSRF token of the last page remembered. It runs over `app.inject` (in-process) or
 * `fetch` (the real server process). Every response is recorded for the suite-wide secret audit, with the
 * console's secrets: the session token (in a cookie only, so in no response body, log or file), secrets
 * typed into forms (in no response at all), and a new API credential's secret (in the one page that shows it).
 */
export interface ConsoleResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  location: string | null;
  /** The id of this response in the audit, when the audit is on. */
  responseId: string;
}

type Transport = (request: { method: string; url: string; headers: Record<string, string>; payload?: string }) => Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}>;

export const injectTransport =
  (app: FastifyInstance): Transport =>
  async ({ method, url, headers, payload }) => {
    const response = await app.inject({ method: method as 'GET', url, headers, payload });
    return { status: response.statusCode, headers: response.headers as Record<string, string | string[] | undefined>, body: response.body };
  };

export const fetchTransport =
  (baseUrl: string): Transport =>
  async ({ method, url, headers, payload }) => {
    const response = await fetch(`${baseUrl}${url}`, { method, headers, body: payload, redirect: 'manual' });
    const collected: Record<string, string | string[]> = {};
    response.headers.forEach((value, key) => {
      if (key !== 'set-cookie') collected[key] = value;
    });
    collected['set-cookie'] = response.headers.getSetCookie();
    return { status: response.status, headers: collected, body: await response.text() };
  };

/** The `_csrf` value of the first form on a page. */
export function csrfOf(body: string): string | null {
  return /name="_csrf" value="([^"]+)"/.exec(body)?.[1] ?? null;
}

/** The new API secret on the page that shows it once. */
export function shownSecret(body: string): string | null {
  return /id="new-client-secret">([^<]+)</.exec(body)?.[1] ?? null;
}

export class ConsoleClient {
  readonly cookies = new Map<string, string>();
  csrf: string | null = null;

  constructor(
    private readonly transport: Transport,
    readonly defaultHeaders: Record<string, string> = {},
  ) {}

  async get(url: string, headers: Record<string, string> = {}): Promise<ConsoleResponse> {
    return this.send('GET', url, undefined, headers);
  }

  /** Posts a form; `_csrf` is the last page's token unless the form gives its own (or `null` to send none). */
  async post(url: string, form: Record<string, string | string[] | null> = {}, headers: Record<string, string> = {}): Promise<ConsoleResponse> {
    const params = new URLSearchParams();
    const withToken = '_csrf' in form ? form : { _csrf: this.csrf, ...form };
    for (const [key, value] of Object.entries(withToken)) {
      if (value === null) continue;
      for (const v of Array.isArray(value) ? value : [value]) params.append(key, v);
      if (key === 'client_secret' && typeof value === 'string') auditSecret('console form client_secret', value);
    }
    return this.send('POST', url, params.toString(), { 'content-type': 'application/x-www-form-urlencoded', ...headers });
  }

  /** Follows a 303 the way a browser does (GET). */
  async follow(response: ConsoleResponse): Promise<ConsoleResponse> {
    if (!response.location) throw new Error(`not a redirect: ${response.status}`);
    return this.get(response.location);
  }

  /** Signs in through the sign-in form; returns the redirect to the console's front door. */
  async signIn(credentials: { client_id: string; client_secret: string }): Promise<ConsoleResponse> {
    await this.get('/console/login');
    const response = await this.post('/console/login', credentials);
    if (response.status !== 303) throw new Error(`sign-in failed: ${response.status}`);
    const home = await this.follow(response);
    // Land on the page the front door points to, so the client holds this session's CSRF token.
    if (home.location) await this.get(home.location);
    return home;
  }

  get sessionToken(): string | undefined {
    return this.cookies.get('eoa_console') ?? this.cookies.get('__Host-eoa_console');
  }

  private async send(method: string, url: string, payload: string | undefined, headers: Record<string, string>): Promise<ConsoleResponse> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const response = await this.transport({ method, url, payload, headers: { ...this.defaultHeaders, ...(cookie ? { cookie } : {}), ...headers } });
    this.remember(response.headers['set-cookie']);
    const responseId = auditResponse(method, url, response.status, response.body);
    const secret = shownSecret(response.body);
    if (secret) auditSecret('console new API credentials client_secret', secret, { kind: 'response', responseId });
    const token = csrfOf(response.body);
    if (token) this.csrf = token;
    const location = response.headers.location;
    return { ...response, location: typeof location === 'string' ? location : null, responseId };
  }

  private remember(setCookie: string | string[] | undefined) {
    for (const line of setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (value === '' || attributes.some((a) => /^max-age=0$/i.test(a))) this.cookies.delete(name);
      else {
        this.cookies.set(name, value);
        if (/eoa_console$/.test(name)) auditSecret('console session token', value);
      }
    }
  }
}
