import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Who is acting, for the services that record it (the audit log). Set once per request by the HTTP layer
 * (http/request-context.ts) and read where an event is recorded, so no service signature has to carry it
 * and no service imports HTTP; node-oidc-provider does the same (lib/helpers/als.js). Work that leaves
 * the request's async chain (the group commit runs a batch from a timer) is bound back to its caller's
 * context where it is queued (bindToRequestContext, handed to store/write-batcher.ts).
 */
interface RequestContext {
  requestId: string;
  /** The client address as the server sees it (after EOA_TRUST_PROXY). */
  address: string;
  /** Null until the request is authenticated, and for public routes. */
  readonly actor: Actor | null;
}

export interface Actor {
  /** The user the request acts as. */
  userId: string;
  /** The user who logged in: differs from userId under a `login/{user_id}` token. */
  principalUserId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runInRequestContext<T>(context: RequestContext, work: () => T): T {
  return storage.run(context, work);
}

/**
 * `work` bound to the running request's context, to be run later from outside its async chain (the group
 * commit runs a batch from a timer). One lookup and a closure: AsyncResource.bind would do the same, but on
 * Node 20 it also builds two `deprecate` wrappers for every call (its `asyncResource` property), a
 * measurable share of every write.
 */
export function bindToRequestContext<A extends unknown[], R>(work: (...args: A) => R): (...args: A) => R {
  const context = storage.getStore();
  return context === undefined ? work : (...args: A) => storage.run(context, work, ...args);
}

/** The context of the running request; null outside one (start-up, CLI, background jobs). */
export function currentRequestContext(): RequestContext | null {
  return storage.getStore() ?? null;
}
