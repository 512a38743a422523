// The ceiling: a bare node:http server answering a fixed JSON body, as fast as this machine can answer
// anything. GET gets a body of GET_BYTES, POST (after reading its request body) one of POST_BYTES, so each
// measured endpoint is compared with a server doing nothing but moving the same number of bytes.
import http from 'node:http';

function jsonOfSize(bytes) {
  const skeleton = JSON.stringify({ padding: '' });
  return Buffer.from(JSON.stringify({ padding: 'x'.repeat(Math.max(0, bytes - skeleton.length)) }));
}

const getBody = jsonOfSize(Number(process.env.GET_BYTES ?? 300));
const postBody = jsonOfSize(Number(process.env.POST_BYTES ?? 300));

const server = http.createServer((req, res) => {
  const body = req.method === 'GET' ? getBody : postBody;
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 72_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`ceiling listening on http://127.0.0.1:${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
