import fs from 'node:fs';
import path from 'node:path';

/**
 * The fenced code blocks of the README and docs/*.md, read the way test/docs/commands.test.ts runs them.
 * The convention (docs/development.md, "Commands in the docs"):
 *
 * - Every block names its language. `sh`, `js` and `ts` blocks are run; any other language (`text`,
 *   `json`, `sql`, `yaml`) never is.
 * - `sh no-test: <why>` (or `js`/`ts`) is a runnable block the test does not run, with the reason; the
 *   test holds the count per page, so adding one is a visible decision.
 * - `js file=NAME` / `ts file=NAME` is saved as NAME in the page's project (a fresh `npm init -y`
 *   directory) for a later `sh in-project` block to run; a `js`/`ts` block without `file=` is run there
 *   directly (ts as an ES module through tsx).
 * - `sh` runs in the checkout; `sh in-project` runs in the page's project.
 * - `engine=sqlite` / `engine=postgres`: run only in that pass of the suite (PostgreSQL: TEST_DATABASE_URL).
 */
export interface CodeBlock {
  page: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  /** The reason given after `no-test`, or null when the block is run. */
  noTest: string | null;
  file: string | null;
  inProject: boolean;
  /** The engine the block is for (`engine=…`), or null for both. */
  engine: string | null;
  code: string;
}

/**
 * Runnable blocks the test does not run, per page. A new `no-test` block fails the test until it is
 * counted here: not running a command is a decision someone takes on purpose.
 */
export const NOT_RUN: Record<string, number> = {
  'README.md': 2, // npm ci && npm start / npm test; npm install of the SDK into a new project
  'docs/api.md': 0,
  'docs/audit-log.md': 1, // an excerpt of src/services/audit.ts
  'docs/deployment.md': 0,
  'docs/development.md': 1, // the outline of a route module
  'docs/oauth-broker.md': 1, // the Databricks CLI
  'docs/operations.md': 1, // docker compose
  'docs/tokens.md': 0,
};

/** Placeholders a shell block that runs may hold (commands.test.ts fills them); any other <word> fails. */
export const PLACEHOLDERS = ['<client_id>', '<client_secret>', '<OAUTH_CLIENT_ID>', '<OAUTH_CLIENT_SECRET>'];

export const RUN_LANGS = new Set(['sh', 'js', 'ts']);
/** Shell spelled otherwise would slip past the test: these are refused, `sh` is the one spelling. */
export const SHELL_ALIASES = new Set(['bash', 'shell', 'console', 'zsh', 'shell-session']);

export function documentationPages(root: string): string[] {
  const docs = fs
    .readdirSync(path.join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

export function parseBlocks(page: string, text: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const open = /^(\s*)```(.*)$/.exec(lines[i]);
    if (!open) continue;
    const indent = open[1].length;
    const info = open[2].trim();
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j])) {
      body.push(lines[j].slice(Math.min(indent, lines[j].length - lines[j].trimStart().length)));
      j += 1;
    }
    if (j === lines.length) throw new Error(`${page}:${i + 1}: a code block that is never closed`);
    const [lang = '', ...words] = info.split(/\s+/).filter(Boolean);
    const noTest = /(?:^|\s)no-test\b:?\s*(.*)$/.exec(info);
    blocks.push({
      page,
      line: i + 1,
      lang,
      noTest: noTest ? noTest[1].trim() : null,
      file: words.find((word) => word.startsWith('file='))?.slice('file='.length) ?? null,
      inProject: words.includes('in-project'),
      engine: words.find((word) => word.startsWith('engine='))?.slice('engine='.length) ?? null,
      code: body.join('\n'),
    });
    i = j;
  }
  return blocks;
}

/** What is wrong with a block against the convention, or null. */
export function conventionProblem(block: CodeBlock): string | null {
  if (block.lang === '') return 'names no language (use `text` for a diagram or output)';
  if (SHELL_ALIASES.has(block.lang)) return `is tagged \`${block.lang}\`: shell blocks are \`sh\``;
  if (!RUN_LANGS.has(block.lang)) return null;
  if (block.noTest !== null) return block.noTest === '' ? 'says `no-test` without saying why' : null;
  if (block.lang === 'sh' && block.file) return 'is `sh` with `file=`: only js and ts blocks are saved';
  if (block.engine !== null && block.engine !== 'sqlite' && block.engine !== 'postgres') return `says engine=${block.engine}: sqlite or postgres`;
  return null;
}

/** Lines without their shell comments (`#` at the start of a word), for checking placeholders. */
export function withoutComments(code: string): string {
  return code
    .split('\n')
    .map((line) => line.replace(/(^|\s)(#|\/\/).*$/, '$1'))
    .join('\n');
}
