import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { auditSecret } from './audit.ts';

/**
 * Snowflake's OAuth endpoints, reduced to what a test can check: Snowflake itself cannot run here, and
 * what matters is its wire shape, which differs from RFC 6749 in two ways the service must handle:
 * - the token endpoint is `<account_url>/oauth/token-request` (not `/oauth/token`), with HTTP Basic client
 *   authentication only;
 * - errors come in Snowflake's own body, `{"data": null, "message": "…", "code": null, "success": false,
 *   "error": "invalid_grant"}` (docs.snowflake.com, "Configure Snowflake OAuth for custom clients", error codes).
 * A success answers as Snowflake documents: `access_token`, `token_type` "Bearer", `expires_in` 600,
 * `refresh_token`, `refresh_token_expires_in`, `username`, `scope`.
 *
 * `/oauth/authorize` stands for Snowflake's login and consent pages: it redirects straight back to the
 * redirect URI with a code and the state, as Snowflake does once the user has consented.
 */
export interface SnowflakeStandIn {
  accountUrl: string;
  /** What the token endpoint answers next: a success, or Snowflake's error body with this `error`. */
  answer: { kind: 'tokens' } | { kind: 'error'; error: string; status: number };
  /** Requests the token endpoint received (method, path, Basic credentials, form). */
  tokenRequests: Array<{ path: string; authorization: string | null; form: URLSearchParams }>;
  /** The tokens of the last success, to look for in the store and the logs. */
  issued: { access_token: string; refresh_token: string } | null;
  stop(): Promise<void>;
}

const SNOWFLAKE_MESSAGES: Record<string, string> = {
  invalid_grant: 'Invalid authorization code.',
  invalid_client: 'This is an invalid client.',
};

export async function startSnowflakeStandIn(): Promise<SnowflakeStandIn> {
  const standIn: SnowflakeStandIn = {
    accountUrl: '',
    answer: { kind: 'tokens' },
    tokenRequests: [],
    issued: null,
    stop: async () => {},
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    if (req.method === 'GET' && url.pathname === '/oauth/authorize') {
      const back = new URL(url.searchParams.get('redirect_uri') ?? '');
      back.searchParams.set('code', randomBytes(16).toString('hex'));
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href }).end();
      return;
    }
    if (req.method === 'POST' && url.pathname === '/oauth/token-request') {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        standIn.tokenRequests.push({ path: url.pathname, authorization: req.headers.authorization ?? null, form: new URLSearchParams(body) });
        const answer = standIn.answer;
        if (answer.kind === 'error') {
          const message = SNOWFLAKE_MESSAGES[answer.error] ?? 'The request could not be processed.';
          res.writeHead(answer.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ data: null, message, code: null, success: false, error: answer.error }));
          return;
        }
        const issued = { access_token: `ver:1-hint:${randomBytes(24).toString('hex')}`, refresh_token: `ver:2-hint:${randomBytes(24).toString('hex')}` };
        auditSecret('snowflake stand-in access_token', issued.access_token);
        auditSecret('snowflake stand-in refresh_token', issued.refresh_token);
        standIn.issued = issued;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            ...issued,
            token_type: 'Bearer',
            expires_in: 600,
            refresh_token_expires_in: 7_776_000,
            username: 'ANALYST1',
            scope: 'refresh_token session:role:ANALYST',
          }),
        );
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ data: null, message: 'Not found', code: null, success: false }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  standIn.accountUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  standIn.stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return standIn;
}
