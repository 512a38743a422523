import type { FastifyReply } from 'fastify';
import type { ConnectFailureReason } from '../services/oauth-connect.ts';
import { escapeHtml } from '../console/html.ts';

/**
 * The pages a user's browser lands on at the end of connecting. They say what happened and what to do,
 * in our words only: nothing from the query string or the provider is shown, and the one value of ours
 * that an admin chose (the application's name) is escaped.
 */
interface Outcome {
  status: 400 | 403 | 404 | 502 | 504;
  title: string;
  what: string;
  next: string;
}

const START_AGAIN = 'Go back to where you started and connect again.';
const ASK_ADMIN = 'Ask your administrator to check the application’s settings at the provider and in this service.';

const FAILURES: Record<ConnectFailureReason, Outcome> = {
  missing_state: { status: 400, title: 'Not a sign-in answer', what: 'This page was opened without the information a provider sends back after you sign in.', next: START_AGAIN },
  unknown_state: { status: 400, title: 'Sign-in link already used', what: 'This sign-in answer was already used, or it belongs to a connection that was not started here.', next: START_AGAIN },
  expired_state: { status: 400, title: 'Sign-in took too long', what: 'More than ten minutes passed between starting to connect and the provider’s answer.', next: START_AGAIN },
  issuer_mismatch: {
    status: 400,
    title: 'Answer from the wrong provider',
    what: 'The answer did not come from the provider this connection was started with, so it was refused to protect your account.',
    next: `${START_AGAIN} If this happens again, tell your administrator.`,
  },
  access_denied: { status: 403, title: 'Access not granted', what: 'The provider says access was not granted: the request was declined at the consent screen, or your account may not use this application.', next: 'Connect again and approve the request, or ask your administrator for access.' },
  rejected: { status: 502, title: 'The provider refused the request', what: 'The provider refused to complete the connection.', next: ASK_ADMIN },
  invalid_grant: { status: 400, title: 'Sign-in could not be completed', what: 'The provider did not accept the sign-in answer: it expired, was already used, or its proof of origin (PKCE) did not match.', next: START_AGAIN },
  invalid_client: { status: 502, title: 'Application not accepted by the provider', what: 'The provider rejected this application’s client id or client secret.', next: 'Ask your administrator to check the application’s client secret (it may have been rotated at the provider).' },
  server_error: { status: 502, title: 'The provider failed', what: 'The provider answered with an error of its own.', next: `Wait a few minutes, then connect again. ${ASK_ADMIN.replace('Ask', 'If it persists, ask')}` },
  unreachable: { status: 502, title: 'The provider could not be reached', what: 'This service could not connect to the provider to finish signing you in.', next: 'Wait a few minutes, then connect again; if it persists, tell your administrator.' },
  timeout: { status: 504, title: 'The provider did not answer in time', what: 'The provider took too long to answer while finishing your sign-in.', next: 'Wait a few minutes, then connect again; if it persists, tell your administrator.' },
  malformed: { status: 502, title: 'Unexpected answer from the provider', what: 'The provider’s answer was not what the OAuth protocol says it should be.', next: ASK_ADMIN },
  not_configured: { status: 502, title: 'Application not configured', what: 'The application no longer says where its provider is.', next: ASK_ADMIN },
  gone: { status: 404, title: 'Connection no longer possible', what: 'The application or your user was deleted while you were signing in.', next: 'Ask your administrator.' },
};

function page(title: string, paragraphs: string[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}</style>
</head><body><h1>${escapeHtml(title)}</h1>
${paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n')}
</body></html>`;
}

/**
 * Headers of every answer at the callback: the page runs no script and loads nothing, cannot be framed,
 * and neither it nor its URL (which held the code and the state) is cached or sent on as a referrer.
 */
export function secureCallbackHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache');
}

export function failurePage(reason: ConnectFailureReason): { status: Outcome['status']; html: string } {
  const outcome = FAILURES[reason];
  return { status: outcome.status, html: page(outcome.title, [outcome.what, outcome.next]) };
}

export function connectedPage(applicationName: string): string {
  return page('Connected', [`Your account is now connected to ${applicationName}.`, 'You can close this page.']);
}

export function internalErrorPage(requestId: string): string {
  return page('Something went wrong', [
    'This service failed while finishing your sign-in; nothing was stored.',
    `Connect again in a few minutes. If it persists, give your administrator this reference: ${requestId}.`,
  ]);
}
