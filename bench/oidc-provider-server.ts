// The benchmark's authorization server: the tests' real oidc-provider (test/helpers/oidc-provider.ts) in a
// process of its own, so its work does not share a thread with autocannon. A small control server beside it
// lets the benchmark play the user's browser, read the provider's event counts, and read how long the
// provider itself took over each token request (its own latency, the yardstick of the refresh phase).
// Env: CLIENT_ID, CLIENT_SECRET, REDIRECT_URI.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestProvider } from '../test/helpers/oidc-provider.ts';

const op = await startTestProvider({
  clients: [{ client_id: process.env.CLIENT_ID!, client_secret: process.env.CLIENT_SECRET!, redirect_uris: [process.env.REDIRECT_URI!] }],
});
const tokenTimings: number[] = [];
op.provider.use(async (ctx, next) => {
  const started = process.hrtime.bigint();
  await next();
  if (ctx.path === '/token') tokenTimings.push(Number(process.hrtime.bigint() - started) / 1e6);
});

const control = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', async () => {
    const answer = (value: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    try {
      if (req.url === '/counts') return answer(Object.fromEntries(op.events));
      if (req.url === '/token-timings') return answer(tokenTimings);
      if (req.url === '/authorize') return answer({ back: (await op.authorize(JSON.parse(body).url)).href });
      res.writeHead(404).end();
    } catch (error) {
      res.writeHead(500).end(String(error));
    }
  });
});
control.listen(0, '127.0.0.1', () => {
  process.stdout.write(`provider listening on ${op.issuer} control http://127.0.0.1:${(control.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', async () => {
  control.close();
  await op.stop();
  process.exit(0);
});
