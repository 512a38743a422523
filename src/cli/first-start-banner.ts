import type { AddressInfo } from 'node:net';

/**
 * What `serve` prints when it created the first admin with a generated secret. The secret exists nowhere
 * else (only its hash is stored), so it is shown once, on stdout, never through the logger; the login
 * command is one line with the real values, quoted for a POSIX shell, so it can be pasted as it is.
 */
export function firstStartBanner(clientId: string, clientSecret: string, baseUrl: string): string {
  const login = [
    'curl',
    // Brackets of an IPv6 address are not a curl URL pattern.
    ...(baseUrl.includes('[') ? ['--globoff'] : []),
    '-X',
    'POST',
    shellQuote(`${baseUrl}/api/4.0/login`),
    '--data-urlencode',
    shellQuote(`client_id=${clientId}`),
    '--data-urlencode',
    shellQuote(`client_secret=${clientSecret}`),
  ].join(' ');
  return [
    '',
    '================================================================================',
    ' First start: created user 1 (Admin) with these API credentials.',
    ' They are shown once and cannot be recovered: store the secret now.',
    '',
    `   client_id:     ${clientId}`,
    `   client_secret: ${clientSecret}`,
    '',
    ' Log in (the reply\'s access_token goes in "Authorization: Bearer <access_token>"):',
    `   ${login}`,
    '',
    ' Next:',
    `   console (sign in with the client_id and client_secret above): ${baseUrl}/console`,
    `   API reference: ${baseUrl}/api/4.0/docs`,
    '   guides, in the repository: README.md (first steps), docs/console.md, docs/api.md,',
    '   docs/deployment.md (before going to production: master key, PostgreSQL, backups)',
    '================================================================================',
    '',
  ].join('\n');
}

/** A word for a POSIX shell: as it is when nothing in it is special, else in single quotes. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The URL a client on this machine reaches the server at: a wildcard address (0.0.0.0, ::) is not one
 * to connect to, the loopback of its family is.
 */
export function reachableUrl(address: AddressInfo | string | null, fallbackHost: string, fallbackPort: number): string {
  const info = typeof address === 'object' && address !== null ? address : { address: fallbackHost, port: fallbackPort, family: fallbackHost.includes(':') ? 'IPv6' : 'IPv4' };
  let host = info.address;
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  else if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${info.port}`;
}
