import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Caller } from '../services/sessions.ts';
import type { User } from '../store/users-repository.ts';
import { html, type Html, type Renderable } from './html.ts';
import { NAV } from './navigation.ts';
import { sessionCsrfToken } from './csrf.ts';
import { csrfField } from './forms.ts';

/** Who is looking at a page, and the token its forms carry. */
export interface PageContext {
  caller: Caller | null;
  /** How the header names the signed-in user. */
  userLabel: string | null;
  csrf: string;
  path: string;
}

export async function pageContext(request: FastifyRequest): Promise<PageContext> {
  const caller = request.caller;
  let userLabel: string | null = null;
  if (caller) {
    const user = await request.server.services.users.get(caller.userId).catch(() => null);
    userLabel = user ? displayName(user) : `User ${caller.userId}`;
  }
  return { caller, userLabel, csrf: sessionCsrfToken(request) ?? '', path: request.url.split('?')[0] };
}

/** How the console names a user: their name, else their email, else their id. */
export function displayName(user: Pick<User, 'id' | 'first_name' | 'last_name' | 'email'>): string {
  return [user.first_name, user.last_name].filter(Boolean).join(' ') || user.email || `User ${user.id}`;
}

interface Page {
  title: string;
  body: Renderable;
  /** A one-line confirmation of what the last action did, announced politely. */
  notice?: string | null;
}

function navigation(ctx: PageContext): Html | null {
  if (!ctx.caller) return null;
  const items = NAV.filter((item) => !item.admin || ctx.caller!.isAdmin).map((item) => {
    const current = ctx.path === item.href || ctx.path.startsWith(`${item.href}/`);
    return html`<li><a href="${item.href}"${current ? html` aria-current="page"` : null}>${item.label}</a></li>`;
  });
  return html`<nav aria-label="Console"><ul class="nav">${items}</ul></nav>
<div class="account"><span>Signed in as ${ctx.userLabel}</span>
<form method="post" action="/console/logout">${csrfField(ctx.csrf)}<button type="submit" class="link-button">Sign out</button></form></div>`;
}

export function layout(ctx: PageContext, page: Page): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${page.title} · external-oauth-apps</title>
<link rel="stylesheet" href="/console/assets/console.css">
<script src="/console/assets/console.js" defer></script>
</head>
<body>
<a class="skip-link" href="#main">Skip to content</a>
<header class="site-header">
<p class="brand"><a href="/console">external-oauth-apps</a></p>
${navigation(ctx)}
</header>
<main id="main" tabindex="-1">
<h1>${page.title}</h1>
${page.notice ? html`<p class="notice" role="status">${page.notice}</p>` : null}
${page.body}
</main>
</body>
</html>
`.value;
}

/** Every console page is HTML that no cache keeps: it may show a secret once, or data only this user may see. */
export function sendPage(reply: FastifyReply, body: string, status = 200) {
  return reply.code(status).type('text/html; charset=utf-8').send(body);
}

/** After a successful POST: 303 to a page (GET), which may show a fixed notice named in the query. */
export function redirect(reply: FastifyReply, location: string) {
  return reply.code(303).header('location', location).send();
}

/** `?page=N` as a whole page number from 1, anything else is page 1. */
export function pageNumber(value: unknown): number {
  const n = typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : 1;
  return Math.max(1, n);
}

/** Rows on a numbered page of a list. */
export const PAGE_SIZE = 25;

/** What a numbered page asks the service for: one row more than it shows, to know whether another follows. */
export function pageWindow(page: number): { limit: number; offset: number } {
  return { limit: PAGE_SIZE + 1, offset: (page - 1) * PAGE_SIZE };
}

/** The rows a `pageWindow` query returned, as the page's items and whether a next page exists. */
export function onePage<T>(rows: T[]): { items: T[]; hasNext: boolean } {
  return { items: rows.slice(0, PAGE_SIZE), hasNext: rows.length > PAGE_SIZE };
}

export function pager(basePath: string, params: Record<string, string>, page: number, hasNext: boolean): Html | null {
  if (page === 1 && !hasNext) return null;
  const link = (n: number) => `${basePath}?${new URLSearchParams({ ...params, page: String(n) })}`;
  return html`<nav class="pager" aria-label="Pages">
${page > 1 ? html`<a href="${link(page - 1)}" rel="prev">Previous page</a>` : null}
<span>Page ${page}</span>
${hasNext ? html`<a href="${link(page + 1)}" rel="next">Next page</a>` : null}
</nav>`;
}

/** Fixed notices named by `?done=`: no text from the URL ever reaches the page. */
export function notice(query: unknown, notices: Record<string, string>): string | null {
  const done = (query as { done?: unknown } | undefined)?.done;
  return typeof done === 'string' && Object.hasOwn(notices, done) ? notices[done] : null;
}

/** A table that scrolls sideways on a narrow screen, reachable and named for keyboard and screen reader users. */
export function table(label: string, head: Html, rows: Html[], empty: string): Html {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<div class="table-wrap" role="region" aria-label="${label}" tabindex="0">
<table><thead>${head}</thead><tbody>${rows}</tbody></table>
</div>`;
}

export function formatTime(iso: string | null): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '';
}
