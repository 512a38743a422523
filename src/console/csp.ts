import type { FastifyReply } from 'fastify';

/**
 * The console's Content-Security-Policy: no inline script or style, forms post only to this service.
 *
 * One exception, per page: a form whose answer redirects to another origin. Browsers check `form-action`
 * against every hop of a form's redirects, so the Connect button (a POST answered 303 to the provider's
 * authorization endpoint) would be blocked; the My connections page names exactly the origins its own
 * Connect forms lead to (`allowFormRedirects`), and no other page names any.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const formTargets = new WeakMap<FastifyReply, string[]>();

/** Lets this reply's page post forms that are redirected to these origins (http or https origins only). */
export function allowFormRedirects(reply: FastifyReply, origins: Iterable<string>) {
  const allowed = [...new Set(origins)].filter((o) => /^https?:\/\/[a-z0-9.\-[\]:]+$/i.test(o));
  if (allowed.length > 0) formTargets.set(reply, allowed);
}

export function contentSecurityPolicy(reply: FastifyReply): string {
  const origins = formTargets.get(reply);
  return origins ? CONTENT_SECURITY_POLICY.replace("form-action 'self'", `form-action 'self' ${origins.join(' ')}`) : CONTENT_SECURITY_POLICY;
}
