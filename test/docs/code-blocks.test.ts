// The code blocks of README.md and docs/*.md follow the convention test/docs/commands.test.ts runs them by
// (test/docs/code-blocks.ts, docs/development.md). No server: this part runs in the fast loop too.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { conventionProblem, documentationPages, NOT_RUN, parseBlocks, PLACEHOLDERS, RUN_LANGS, withoutComments, type CodeBlock } from './code-blocks.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const allBlocks = documentationPages(ROOT).flatMap((page) => parseBlocks(page, fs.readFileSync(path.join(ROOT, page), 'utf8')));
const runnable = (block: CodeBlock) => RUN_LANGS.has(block.lang);

describe('code blocks in the docs follow the convention', () => {
  test('every block names its language, shell is `sh`, and `no-test` says why', () => {
    const problems = allBlocks.flatMap((block) => {
      const problem = conventionProblem(block);
      return problem ? [`${block.page}:${block.line} ${problem}`] : [];
    });
    assert.deepEqual(problems, []);
  });

  test('the blocks not run are exactly the ones counted in NOT_RUN', () => {
    const counts: Record<string, number> = {};
    for (const block of allBlocks.filter(runnable)) counts[block.page] = (counts[block.page] ?? 0) + (block.noTest === null ? 0 : 1);
    assert.deepEqual(counts, NOT_RUN);
  });

  test('blocks that run hold no placeholder the test does not fill, and no "…"', () => {
    const problems = allBlocks
      .filter((block) => runnable(block) && block.noTest === null)
      .flatMap((block) => {
        const code = withoutComments(block.code);
        // In js and ts, <Name> is a type argument; placeholders belong to shell.
        const candidates = block.lang === 'sh' ? [...code.matchAll(/<[A-Za-z_][A-Za-z0-9_]*>/g)].map((m) => m[0]) : [];
        const unknown = candidates.filter((p) => !PLACEHOLDERS.includes(p));
        return [
          ...unknown.map((p) => `${block.page}:${block.line} holds ${p}`),
          ...(code.includes('…') ? [`${block.page}:${block.line} holds "…": write a value, a variable, or mark it no-test`] : []),
        ];
      });
    assert.deepEqual(problems, []);
  });

  test('there is something to run: the README has its curl and SDK first steps', () => {
    const readme = allBlocks.filter((block) => block.page === 'README.md' && block.noTest === null);
    assert.ok(readme.some((block) => block.lang === 'sh' && block.code.includes('curl')));
    assert.ok(readme.some((block) => block.lang === 'js' && block.file));
  });
});

describe('reading code blocks', () => {
  test('an indented block (in a list) loses its indentation; tags and attributes are read', () => {
    const [block] = parseBlocks('x.md', 'text\n1. step:\n   ```sh engine=sqlite in-project\n   echo one\n     echo two\n   ```\n');
    assert.deepEqual(
      { line: block.line, lang: block.lang, engine: block.engine, inProject: block.inProject, noTest: block.noTest, code: block.code },
      { line: 3, lang: 'sh', engine: 'sqlite', inProject: true, noTest: null, code: 'echo one\n  echo two' },
    );
  });

  test('no-test keeps its reason; a block left open is an error', () => {
    assert.equal(parseBlocks('x.md', '```ts no-test: an excerpt\nx\n```')[0].noTest, 'an excerpt');
    assert.equal(conventionProblem(parseBlocks('x.md', '```sh no-test\nx\n```')[0]), 'says `no-test` without saying why');
    assert.match(conventionProblem(parseBlocks('x.md', '```bash\nx\n```')[0]) ?? '', /shell blocks are `sh`/);
    assert.throws(() => parseBlocks('x.md', '```sh\necho\n'), /never closed/);
  });
});
