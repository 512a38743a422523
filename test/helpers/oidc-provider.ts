import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider, { type ClientMetadata, type Configuration } from 'oidc-provider';
import { auditSecret } from './audit.ts';

/**
 * A real authorization server for the broker's tests: panva's oidc-provider 9, in the test process, on
 * 127.0.0.1 and a free port. Configured as the issue asks of a strict provider: PKCE required (S256),
 * client_secret_basic, refresh tokens issued and rotated on every use, `iss` in the authorization response
 * (RFC 9207), a short access-token lifetime when asked, and no development login pages: a test completes
 * login and consent headlessly with `authorize()`, which plays the browser (fetch with redirect:'manual'
 * and a small cookie jar) while the interaction routes below answer as a user would.
 *
 * It can also misbehave: `stop()`/`start()` take it down and bring it back on the same port, `hang(true)`
 * makes every request wait for an answer that never comes, and `configure()` swaps its clients (a secret
 * rotated at the provider) while keeping its grants and tokens.
 *
 * oidc-provider prints "Unsupported runtime" on Node 20 and works.
 */
export interface TestClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

export interface TestProviderOptions {
  clients?: TestClient[];
  /** Seconds an access token lives (default 3600). */
  accessTokenTtl?: number;
  /** Seconds a refresh token lives (default 14 days). */
  refreshTokenTtl?: number;
}

export interface AuthorizeOptions {
  /** The user who logs in at the provider (default `alice`). */
  accountId?: string;
  /** `deny` answers the consent prompt with access_denied. */
  decision?: 'allow' | 'deny';
}

export interface TestProvider {
  issuer: string;
  port: number;
  provider: Provider;
  /** How many times each event fired (`grant.success`, `grant.revoked`, `refresh_token.consumed`, …). */
  events: Map<string, number>;
  count(event: string): number;
  /**
   * Plays the user's browser from an authorization URL: logs in, consents (or denies), and returns the URL
   * the provider sends the browser back to (the redirect URI with `code`/`error`, `state`, `iss`),
   * without following it.
   */
  authorize(authorizationUrl: string, options?: AuthorizeOptions): Promise<URL>;
  /** Replaces the clients (e.g. a rotated secret); grants and tokens issued so far stay valid. */
  configure(options: TestProviderOptions): Promise<void>;
  /** When on, every request is held unanswered until `hang(false)` or `stop()`. */
  hang(on: boolean): void;
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

const EVENTS = [
  'grant.success',
  'grant.error',
  'grant.revoked',
  'refresh_token.consumed',
  'refresh_token.destroyed',
  'access_token.issued',
  'authorization.success',
  'authorization.error',
  'server_error',
];

type Payload = Record<string, unknown> & { grantId?: string; uid?: string; userCode?: string };

/**
 * The provider's storage, kept by the fixture rather than by one Provider instance: oidc-provider 9 gives
 * each instance its own in-memory store, so `configure()` (a new instance) would otherwise forget every
 * grant and token. A Map without eviction (oidc-provider's own keeps 1,000 entries, which a long test
 * file outgrows), expiring entries as the real adapters do.
 */
function memoryStore() {
  const entries = new Map<string, { payload: Payload; expiresAt: number | null }>();
  const grants = new Map<string, Set<string>>();
  const live = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry.payload;
  };
  return (model: string) => ({
    async upsert(id: string, payload: Payload, expiresIn?: number) {
      const key = `${model}:${id}`;
      entries.set(key, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : null });
      if (payload.grantId) grants.set(payload.grantId, (grants.get(payload.grantId) ?? new Set()).add(key));
      if (model === 'Session' && payload.uid) entries.set(`sessionUid:${payload.uid}`, { payload: { id }, expiresAt: null });
      if (payload.userCode) entries.set(`userCode:${payload.userCode}`, { payload: { id }, expiresAt: null });
    },
    async find(id: string) {
      return live(`${model}:${id}`);
    },
    async findByUid(uid: string) {
      const ref = live(`sessionUid:${uid}`);
      return ref ? live(`${model}:${ref.id as string}`) : undefined;
    },
    async findByUserCode(userCode: string) {
      const ref = live(`userCode:${userCode}`);
      return ref ? live(`${model}:${ref.id as string}`) : undefined;
    },
    async consume(id: string) {
      const payload = live(`${model}:${id}`);
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    },
    async destroy(id: string) {
      entries.delete(`${model}:${id}`);
    },
    async revokeByGrantId(grantId: string) {
      for (const key of grants.get(grantId) ?? []) entries.delete(key);
      grants.delete(grantId);
    },
  });
}

let signingKeys: { keys: object[] } | null = null;

/**
 * The providers' signing key, made once per process: an RSA key takes a visible share of a test file's
 * CPU to generate, and nothing here signs anything the service checks (it reads no ID tokens).
 */
function providerJwks(): { keys: object[] } {
  if (!signingKeys) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    signingKeys = { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test', use: 'sig', alg: 'RS256' }] };
  }
  // A copy each: a provider may keep and change what it is given.
  return structuredClone(signingKeys);
}

/** Starts a provider on 127.0.0.1 and a free port. Call `stop()` when done. */
export async function startTestProvider(options: TestProviderOptions = {}): Promise<TestProvider> {
  const jwks = providerJwks();
  const cookieKeys = [randomBytes(32).toString('base64url')];
  const events = new Map<string, number>();
  const held = new Set<http.ServerResponse>();
  const sockets = new Set<Socket>();
  let hanging = false;
  let decision: Required<AuthorizeOptions> = { accountId: 'alice', decision: 'allow' };
  let current: TestProviderOptions = options;
  const adapter = memoryStore();
  let provider!: Provider;

  const server = http.createServer((req, res) => {
    if (hanging) {
      held.add(res);
      res.once('close', () => held.delete(res));
      return;
    }
    if (req.url?.startsWith('/interaction/')) {
      interaction(req, res).catch((error) => {
        res.statusCode = 500;
        res.end(String(error));
      });
      return;
    }
    provider.callback()(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  function build(opts: TestProviderOptions): Provider {
    for (const client of opts.clients ?? []) auditSecret('oidc-provider client_secret', client.client_secret);
    const configuration: Configuration = {
      clients: (opts.clients ?? []).map(
        (c): ClientMetadata => ({
          ...c,
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
        }),
      ),
      adapter,
      jwks,
      cookies: { keys: cookieKeys },
      pkce: { required: () => true },
      features: { devInteractions: { enabled: false }, revocation: { enabled: true } },
      scopes: ['openid', 'offline_access', 'refresh_token', 'sql'],
      // Refresh tokens for every client allowed the grant, without OIDC's offline_access ceremony.
      issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
      rotateRefreshToken: true,
      ttl: {
        AccessToken: opts.accessTokenTtl ?? 3600,
        RefreshToken: opts.refreshTokenTtl ?? 14 * 24 * 3600,
        AuthorizationCode: 60,
        Interaction: 600,
        Session: 3600,
        Grant: 14 * 24 * 3600,
      },
      findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    };
    const p = new Provider(issuer, configuration);
    const emit = p.emit.bind(p);
    p.emit = ((name: string, ...args: unknown[]) => {
      events.set(name, (events.get(name) ?? 0) + 1);
      return emit(name, ...args);
    }) as typeof p.emit;
    // Its own errors would otherwise be logged by koa to stderr; the counters are what tests read.
    for (const name of EVENTS) (p.on as (event: string, listener: () => void) => void)(name, () => {});
    return p;
  }

  /** The provider's login and consent pages, answered as the user in `decision` would. */
  async function interaction(req: http.IncomingMessage, res: http.ServerResponse) {
    const details = await provider.interactionDetails(req, res);
    const { prompt, params, session } = details;
    if (prompt.name === 'login') {
      await provider.interactionFinished(req, res, { login: { accountId: decision.accountId } }, { mergeWithLastSubmission: false });
      return;
    }
    if (decision.decision === 'deny') {
      await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'The user said no.' }, { mergeWithLastSubmission: false });
      return;
    }
    const grant = details.grantId
      ? (await provider.Grant.find(details.grantId))!
      : new provider.Grant({ accountId: session!.accountId, clientId: params.client_id as string });
    const scope = String(params.scope ?? '');
    const oidcScopes = scope.split(' ').filter((s) => s === 'openid' || s === 'offline_access');
    const otherScopes = scope.split(' ').filter((s) => s !== '' && s !== 'openid' && s !== 'offline_access');
    if (oidcScopes.length > 0) grant.addOIDCScope(oidcScopes.join(' '));
    if (otherScopes.length > 0) grant.addOIDCScope(otherScopes.join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  provider = build(current);

  async function listen() {
    if (server.listening) return;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  return {
    issuer,
    port,
    get provider() {
      return provider;
    },
    events,
    count: (event) => events.get(event) ?? 0,

    async authorize(authorizationUrl, opts = {}) {
      decision = { accountId: opts.accountId ?? 'alice', decision: opts.decision ?? 'allow' };
      const jar = new Map<string, string>();
      let url = new URL(authorizationUrl);
      // Authorization → login → resume → consent → resume → redirect URI: six hops; twelve is a loop.
      for (let hop = 0; hop < 12; hop += 1) {
        if (url.origin !== issuer) return url;
        const response = await fetch(url, {
          redirect: 'manual',
          headers: jar.size > 0 ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {},
          signal: AbortSignal.timeout(10_000),
        });
        for (const cookie of response.headers.getSetCookie()) {
          const [pair] = cookie.split(';');
          const eq = pair.indexOf('=');
          jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
        }
        const location = response.headers.get('location');
        await response.body?.cancel();
        if (!location) throw new Error(`the provider answered ${response.status} without a redirect at ${url.pathname}`);
        url = new URL(location, url);
      }
      throw new Error('the provider redirected more than 12 times');
    },

    async configure(opts) {
      current = { ...current, ...opts };
      provider = build(current);
    },

    hang(on) {
      hanging = on;
      if (!on) for (const res of held) res.destroy();
    },

    async stop() {
      hanging = false;
      for (const res of held) res.destroy();
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },

    start: listen,
  };
}
