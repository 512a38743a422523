// Preloaded into a server process (NODE_OPTIONS=--import …) by test/e2e/no-async-hooks.test.ts: notes
// everything that turns on async hooks — an AsyncLocalStorage entered, a hook enabled, a V8 promise hook
// set — with where it came from, and writes the list to EOA_ASYNC_HOOKS_PROBE_OUT when the process exits.
// On Node 20 any of them makes every promise of the process pay for a hook (issue 16).
import asyncHooks from 'node:async_hooks';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import v8 from 'node:v8';

const seen = new Map();
function note(what) {
  const where = new Error().stack.split('\n').slice(3, 7).map((line) => line.trim().replace(/^at /, '')).join(' < ');
  const key = `${what} at ${where}`;
  seen.set(key, (seen.get(key) ?? 0) + 1);
}

function wrap(target, name, what) {
  const original = target[name];
  target[name] = function (...args) {
    note(what);
    return original.apply(this, args);
  };
}

for (const name of ['run', 'enterWith']) wrap(asyncHooks.AsyncLocalStorage.prototype, name, `AsyncLocalStorage.${name}`);
const createHook = asyncHooks.createHook;
asyncHooks.createHook = (callbacks) => {
  const hook = createHook(callbacks);
  wrap(hook, 'enable', 'async_hooks.createHook().enable');
  return hook;
};
// What an AsyncLocalStorage or an async hook sets underneath, and what a module could set itself.
for (const name of ['createHook', 'onInit', 'onBefore', 'onAfter', 'onSettled']) wrap(v8.promiseHooks, name, `v8.promiseHooks.${name}`);
syncBuiltinESMExports();

process.on('exit', () => {
  fs.writeFileSync(process.env.EOA_ASYNC_HOOKS_PROBE_OUT, JSON.stringify([...seen].map(([use, times]) => `${times}× ${use}`)));
});
