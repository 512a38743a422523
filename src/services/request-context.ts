/**
 * Who is acting, for the services that record it (the audit log). The HTTP layer builds one per request
 * (http/request-context.ts) and hands it to every service method that records an event, which hands it to
 * `audit.record`: a required argument all the way, so a call that forgets it does not compile. Work done
 * for no request (start-up, background jobs, the CLI) passes NO_REQUEST.
 *
 * An argument, not an AsyncLocalStorage: on Node 20 a store in use turns on promise hooks for the whole
 * process, and every promise of every request paid for them (issue 16). Passing it also needs nothing to
 * carry it across the group commit, which runs a batch from a timer in whichever request queued first.
 */
export interface RequestContext {
  /** Null outside a request. */
  readonly requestId: string | null;
  /** The client address as the server sees it (after EOA_TRUST_PROXY); null outside a request. */
  readonly address: string | null;
  /** Null for a request not (yet) authenticated, and outside a request. */
  readonly actor: Actor | null;
}

export interface Actor {
  /** The user the request acts as. */
  userId: string;
  /** The user who logged in: differs from userId under a `login/{user_id}` token. */
  principalUserId: string;
}

/** The context of work done for no request: no request id, no address, no actor. */
export const NO_REQUEST: RequestContext = Object.freeze({ requestId: null, address: null, actor: null });

/** The same request, acting as `actor`: a login acts as the user it logs in, before the request is authenticated. */
export function actingAs(context: RequestContext, actor: Actor | null): RequestContext {
  return { requestId: context.requestId, address: context.address, actor };
}
