import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ConfigError, loadConfig } from '../src/config.ts';

const KEY = Buffer.alloc(32, 1).toString('base64');

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

test('defaults: port 19999 on 127.0.0.1, SQLite under ./data, 1 h tokens, 1 MiB bodies', () => {
  const config = loadConfig({});
  assert.equal(config.port, 19999);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.dataDir, path.resolve('./data'));
  assert.equal(config.databaseUrl, null);
  assert.equal(config.bootstrap, null);
  assert.equal(config.tokenTtlS, 3600);
  assert.equal(config.publicUrl, null);
  assert.equal(config.http.bodyLimitBytes, 1024 * 1024);
  assert.equal(config.http.trustProxy, false);
  assert.equal(config.logLevel, 'info');
});

test('values are parsed and normalised', () => {
  const config = loadConfig({
    PORT: '8080',
    HOST: '0.0.0.0',
    EOA_DATA_DIR: '/var/lib/eoa',
    DATABASE_URL: 'postgres://u@db/eoa',
    EOA_MASTER_KEY: KEY,
    EOA_BOOTSTRAP_CLIENT_ID: 'admin',
    EOA_BOOTSTRAP_CLIENT_SECRET: 'a-secret-of-16-chars',
    EOA_TOKEN_TTL_S: '600',
    EOA_PUBLIC_URL: 'https://eoa.example.test/',
    EOA_TRUST_PROXY: '10.0.0.0/8, 192.168.1.1',
    EOA_CORS_ORIGINS: 'https://a.test, https://b.test',
    LOG_LEVEL: 'warn',
  });
  assert.equal(config.port, 8080);
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.dataDir, '/var/lib/eoa');
  assert.equal(config.databaseUrl, 'postgres://u@db/eoa');
  assert.deepEqual(config.bootstrap, { clientId: 'admin', clientSecret: 'a-secret-of-16-chars' });
  assert.equal(config.tokenTtlS, 600);
  assert.equal(config.publicUrl, 'https://eoa.example.test');
  assert.deepEqual(config.http.trustProxy, ['10.0.0.0/8', '192.168.1.1']);
  assert.deepEqual(config.http.corsOrigins, ['https://a.test', 'https://b.test']);
  assert.equal(config.logLevel, 'warn');
  assert.equal(loadConfig({ EOA_TRUST_PROXY: '2' }).http.trustProxy, 2);
  assert.equal(loadConfig({ EOA_TRUST_PROXY: 'true' }).http.trustProxy, true);
});

test('empty or blank variables count as unset', () => {
  const config = loadConfig({ PORT: '', EOA_BOOTSTRAP_CLIENT_ID: '  ', EOA_BOOTSTRAP_CLIENT_SECRET: '', LOG_LEVEL: ' ' });
  assert.equal(config.port, 19999);
  assert.equal(config.bootstrap, null);
  assert.equal(config.logLevel, 'info');
});

test('every problem is reported at once', () => {
  const problems = problemsOf({
    PORT: 'eighty',
    EOA_TOKEN_TTL_S: '0',
    DATABASE_URL: 'mysql://db/eoa',
    REDIS_URL: 'localhost:6379',
    EOA_BOOTSTRAP_CLIENT_ID: 'admin',
    EOA_PUBLIC_URL: 'eoa.example.test',
    EOA_BODY_LIMIT_BYTES: '-5',
    EOA_TRUST_PROXY: 'everyone',
    LOG_LEVEL: 'loud',
    EOA_MASTER_KEY: 'c2hvcnQ=',
  });
  const expected = [
    /^PORT must be a whole number from 0 to 65535 \(got "eighty"\)$/,
    /^EOA_TOKEN_TTL_S must be a whole number/,
    /^DATABASE_URL must start with postgres:\/\//,
    /^REDIS_URL must start with redis:\/\//,
    /^EOA_BOOTSTRAP_CLIENT_ID and EOA_BOOTSTRAP_CLIENT_SECRET must be set together$/,
    /^EOA_PUBLIC_URL must be an absolute http\(s\) URL$/,
    /^EOA_BODY_LIMIT_BYTES must be a whole number/,
    /^EOA_TRUST_PROXY must be/,
    /^LOG_LEVEL must be one of/,
    /^EOA_MASTER_KEY is invalid: master key #1 is not the base64 encoding of 32 bytes$/,
  ];
  for (const pattern of expected) assert.ok(problems.some((p) => pattern.test(p)), `${pattern} in:\n${problems.join('\n')}`);
  assert.equal(problems.length, expected.length);
});

test('the error message lists the problems one per line, and names no secret', () => {
  const secret = 'short-secret';
  try {
    loadConfig({ EOA_BOOTSTRAP_CLIENT_ID: 'admin', EOA_BOOTSTRAP_CLIENT_SECRET: secret, PORT: '70000' });
    assert.fail('expected a ConfigError');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.problems.length, 2);
    assert.match(error.message, /^Invalid configuration:\n {2}- .+\n {2}- .+$/);
    assert.ok(!error.message.includes(secret));
  }
});

test('PostgreSQL needs the master key; SQLite does not', () => {
  assert.deepEqual(
    problemsOf({ DATABASE_URL: 'postgresql://u@db/eoa' }).map((p) => p.split(':')[0]),
    ['EOA_MASTER_KEY is required with DATABASE_URL'],
  );
  assert.equal(loadConfig({ DATABASE_URL: 'postgresql://u@db/eoa', EOA_MASTER_KEY: KEY }).masterKey, KEY);
});

test('a malformed master key list is a configuration problem, and its value is never echoed', () => {
  const other = Buffer.alloc(32, 2).toString('base64');
  assert.equal(loadConfig({ EOA_MASTER_KEY: `new:${KEY},old:${other}` }).masterKey, `new:${KEY},old:${other}`);
  for (const bad of [`a:${KEY},a:${other}`, `bad id:${KEY}`, `${KEY.slice(0, 20)}`]) {
    const problems = problemsOf({ EOA_MASTER_KEY: bad });
    assert.equal(problems.length, 1, bad);
    assert.match(problems[0], /^EOA_MASTER_KEY is invalid/);
    assert.ok(!problems[0].includes(KEY.slice(0, 20)));
  }
});

test('numbers must be whole and in range', () => {
  for (const value of ['1.5', '1e3', '-1', '0x10', '65536', ' 80 x']) {
    assert.equal(problemsOf({ PORT: value }).length, 1, value);
  }
  assert.equal(loadConfig({ PORT: '0' }).port, 0);
});

test('the OAuth connect settings: defaults, parsing, and every problem named', () => {
  const defaults = loadConfig({}).oauth;
  assert.deepEqual(defaults, { returnToOrigins: [], allowInsecureProviders: false, providerTimeoutMs: 10_000 });
  const set = loadConfig({ EOA_RETURN_TO_ORIGINS: 'https://bi.example.com, http://127.0.0.1:3000', EOA_ALLOW_INSECURE_PROVIDERS: 'true', EOA_PROVIDER_TIMEOUT_MS: '2500' }).oauth;
  assert.deepEqual(set, { returnToOrigins: ['https://bi.example.com', 'http://127.0.0.1:3000'], allowInsecureProviders: true, providerTimeoutMs: 2500 });
  const problems = problemsOf({ EOA_RETURN_TO_ORIGINS: 'https://bi.example.com/path,ftp://x', EOA_ALLOW_INSECURE_PROVIDERS: 'yes', EOA_PROVIDER_TIMEOUT_MS: '5' });
  for (const pattern of [/EOA_RETURN_TO_ORIGINS.*https:\/\/bi\.example\.com\/path, ftp:\/\/x/, /EOA_ALLOW_INSECURE_PROVIDERS must be true or false/, /EOA_PROVIDER_TIMEOUT_MS must be a whole number from 100/]) {
    assert.ok(problems.some((p) => pattern.test(p)), `${pattern} in:\n${problems.join('\n')}`);
  }
});

test('the token settings: a 60 s refresh margin, a 5 s provider back-off and a 7-day secret overlap by default; bad values named', () => {
  assert.deepEqual(loadConfig({}).tokens, { refreshMarginS: 60, providerBackoffS: 5, secretOverlapS: 7 * 24 * 3600 });
  assert.deepEqual(loadConfig({ EOA_REFRESH_MARGIN_S: '0', EOA_PROVIDER_BACKOFF_S: '1', EOA_SECRET_OVERLAP_S: '0' }).tokens, { refreshMarginS: 0, providerBackoffS: 1, secretOverlapS: 0 });
  const problems = problemsOf({ EOA_REFRESH_MARGIN_S: '-5', EOA_PROVIDER_BACKOFF_S: '0', EOA_SECRET_OVERLAP_S: '1.5' });
  for (const pattern of [/EOA_REFRESH_MARGIN_S must be a whole number from 0 to 86400/, /EOA_PROVIDER_BACKOFF_S must be a whole number from 1 to 3600/, /EOA_SECRET_OVERLAP_S must be a whole number from 0/]) {
    assert.ok(problems.some((p) => pattern.test(p)), `${pattern} in:\n${problems.join('\n')}`);
  }
});
