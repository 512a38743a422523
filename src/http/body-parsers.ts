import fp from 'fastify-plugin';

/**
 * The API speaks JSON only (login's form body is added by the login routes alone), so any other
 * content type is a 400 naming the one to send. Some clients send `Content-Type: application/json` on
 * every request, DELETEs included: an empty body then means "no body", not malformed JSON; a route
 * that needs a body still rejects its absence.
 */
export default fp(
  async (app) => {
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      if (body === '') return done(null, undefined);
      parseJson(request, body as string, done);
    });
  },
  { name: 'body-parsers' },
);
