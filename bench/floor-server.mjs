// The floor: fastify answering the ceiling's fixed JSON body (GET_BYTES) through a response schema, with one
// pino line per request as the service writes (src/http/request-log.ts), and nothing else: no
// authentication, no store. The share of the node:http ceiling it reaches is what the settled design
// (fastify, a request log line) leaves for everything the service does on top.
import Fastify from 'fastify';

const skeleton = JSON.stringify({ padding: '' });
const body = { padding: 'x'.repeat(Math.max(0, Number(process.env.GET_BYTES ?? 300) - skeleton.length)) };

const app = Fastify({ logger: { level: 'info' }, disableRequestLogging: true });
app.addHook('onResponse', (request, reply, done) => {
  request.log.info({ method: request.method, url: request.url, statusCode: reply.statusCode, responseTime: reply.elapsedTime }, 'request');
  done();
});
app.get('/*', { schema: { response: { 200: { type: 'object', properties: { padding: { type: 'string' } } } } } }, async () => body);
app.server.keepAliveTimeout = 72_000;
await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`floor listening on http://127.0.0.1:${app.server.address().port}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
