// The links of README.md and docs/*.md: all inside the repository, to files that exist and headings that
// exist, so that a moved file or a renamed heading fails here instead of in a reader's browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { documentationPages } from './code-blocks.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The page without its fenced code blocks and inline code, where a `[x](y)` is not a link. */
function prose(text: string): string {
  return text.replace(/^\s*```[\s\S]*?^\s*```\s*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const match of text.replace(/^\s*```[\s\S]*?^\s*```\s*$/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = match[1]
      .replace(/`/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

const pages = documentationPages(ROOT).map((page) => ({ page, text: fs.readFileSync(path.join(ROOT, page), 'utf8') }));
const links = pages.flatMap(({ page, text }) =>
  [...prose(text).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)|<((?:https?|mailto):[^>\s]+)>/g)].map((m) => ({ page, target: m[1] ?? m[2] })),
);

test('the pages have links to check', () => {
  assert.ok(links.filter((link) => link.page === 'README.md').length >= 10);
});

const isOutside = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');

test('no page links outside the repository', () => {
  const outside = links.filter(({ target }) => isOutside(target));
  assert.deepEqual(outside.map(({ page, target }) => `${page} → ${target}`), []);
});

test('every link reaches a file of the repository, and a heading of it when it names one', () => {
  const broken = links.filter(({ target }) => !isOutside(target)).flatMap(({ page, target }) => {
    const [file, anchor] = target.split('#') as [string, string | undefined];
    const resolved = file === '' ? path.join(ROOT, page) : path.resolve(path.dirname(path.join(ROOT, page)), decodeURIComponent(file));
    if (!resolved.startsWith(`${ROOT}${path.sep}`) || !fs.existsSync(resolved)) return [`${page} → ${target}: no such file`];
    if (anchor === undefined || !resolved.endsWith('.md')) return [];
    return anchors(fs.readFileSync(resolved, 'utf8')).has(anchor) ? [] : [`${page} → ${target}: no such heading`];
  });
  assert.deepEqual(broken, []);
});
