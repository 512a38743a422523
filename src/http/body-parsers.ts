import { isUtf8 } from 'node:buffer';
import fp from 'fastify-plugin';
import { badRequest } from '../errors.ts';

/**
 * The API speaks JSON only (login's form body is added by the login routes alone), so any other
 * content type is a 400 naming the one to send. Some clients send `Content-Type: application/json` on
 * every request, DELETEs included: an empty body then means "no body", not malformed JSON; a route
 * that needs a body still rejects its absence. JSON is UTF-8 (RFC 8259): bytes that are not are refused,
 * where reading them as text would have turned them into U+FFFD silently.
 */
export default fp(
  async (app) => {
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
      const bytes = body as Buffer;
      if (bytes.length === 0) return done(null, undefined);
      if (!isUtf8(bytes)) return done(badRequest('The request body is not valid UTF-8.'), undefined);
      parseJson(request, bytes.toString('utf8'), done);
    });
  },
  { name: 'body-parsers' },
);
