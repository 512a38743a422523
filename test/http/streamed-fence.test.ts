import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fenced } from '../../src/http/response-headers.ts';

/**
 * A streamed list reads on after its headers are sent (api/json-stream.ts), so the SQLite durability
 * fence must hold each later chunk too, not only the first: a chunk read while a group commit's flush is
 * pending is let through only once that flush is done.
 */
test('each chunk of a streamed response waits for the flush pending when it was read', async () => {
  let flush: (() => void) | null = null;
  let pending: Promise<void> | null = null;
  const walSync = { pending: () => pending };
  async function* chunks() {
    yield 'first';
    // A group commit lands between the first chunk and the second: its flush is now pending.
    pending = new Promise<void>((resolve) => (flush = resolve));
    yield 'second';
  }

  const stream = fenced(chunks(), walSync);
  assert.deepEqual(await stream.next(), { value: 'first', done: false }, 'nothing pending: the first chunk goes at once');
  let secondSettled = false;
  const second = stream.next().then((result) => ((secondSettled = true), result));
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(secondSettled, false, 'the second chunk waits while the flush is pending');
  pending = null;
  flush!();
  assert.deepEqual(await second, { value: 'second', done: false });
  assert.deepEqual(await stream.next(), { value: undefined, done: true });
});

test('an error while reading a later chunk still reaches the stream', async () => {
  async function* chunks() {
    yield 'first';
    throw new Error('read failed');
  }
  const stream = fenced(chunks(), { pending: () => null });
  await stream.next();
  await assert.rejects(stream.next(), /read failed/);
});
