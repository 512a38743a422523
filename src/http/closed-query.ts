import fp from 'fastify-plugin';

/**
 * A query parameter the operation does not declare is a 400, on every route: a misspelled filter
 * (`?clientid=x`) or a malformed one (`?client_id[]=x`) ignored would bring the list back whole, as if the
 * filter had matched everything. Each route's querystring schema is closed here
 * (`additionalProperties: false`), and a route that declares none gets an empty closed one, so a route
 * added later is covered with no code of its own; it declares the parameters it takes, and only those.
 */
export default fp(
  async (app) => {
    app.addHook('onRoute', (route) => {
      const schema = (route.schema ?? {}) as { querystring?: Record<string, unknown> };
      const declared = schema.querystring ?? { type: 'object', properties: {} };
      // A route that must take parameters it cannot list (an OAuth callback: providers add their own) says
      // so in its schema with `additionalProperties: true`; that choice is kept.
      route.schema = { ...schema, querystring: { ...declared, additionalProperties: declared.additionalProperties ?? false } };
    });
  },
  { name: 'closed-query' },
);
