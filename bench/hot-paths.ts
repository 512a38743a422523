// `tsx bench/hot-paths.ts [--db postgres] [--duration S] [--rounds N] [--paths list,token,create]
//   [--connections N] [--base DIR] [--profile DIR]`
//
// The three hot paths of issue 16 alone, for measuring one lever at a time: the filtered list, a fresh
// access-token read (with its audit event) and a durable create, each as the service's CPU µs per answered
// request (from /proc; on PostgreSQL its backends' CPU too, beside it), which a busy machine disturbs less
// than requests/s, though still by a factor of two on a crowded one. Hence `--base DIR`: a checkout of the
// code before the lever (`git archive <commit> | tar -x -C DIR`, node_modules linked), run beside this one
// on a store of its own and measured interleaved, phase by phase, so both see the same load; the ratio of
// the two is what to read. The median of the rounds is printed. `--profile DIR` runs this checkout's
// service under `node --cpu-prof` (written when it stops).
// The token is stored through POST user_state and is far from expiry, so every read is the broker's fresh
// read (bench/broker.ts) without the provider.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon, { type Options, type Result } from 'autocannon';
import { CLOCK_TICKS, cpuUsOf } from './measure.ts';
import { benchAdmin, createProcesses, serviceEnv, type Child, type Processes } from './processes.ts';
import { APPS, API, call, createRequest, listRequest, login } from './requests.ts';
import { prepareStore, seed, type StoreTarget } from './store.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const db = option('--db', 'sqlite') as 'sqlite' | 'postgres';
const duration = Number(option('--duration', '3'));
const rounds = Number(option('--rounds', '3'));
const connections = Number(option('--connections', '50'));
const only = option('--paths', 'list,token,create').split(',');
const base = option('--base', '');
/** Another checkout to measure instead of this one (a variant made for one experiment). */
const candidate = option('--this', '') || null;
const profileDir = option('--profile', '');
/** `K=V,K=V`: more environment for the measured service (not the base), e.g. LOG_LEVEL=warn for one experiment. */
const thisEnv = Object.fromEntries(option('--this-env', '').split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));

interface Target {
  name: string;
  service: Child;
  /** The PostgreSQL backends serving this target (none on SQLite), whose CPU is counted beside the service's. */
  databasePids: () => Promise<number[]>;
  paths: Record<string, Options['requests']>;
  figures: Record<string, number[]>;
  dbFigures: Record<string, number[]>;
}

async function startTarget(name: string, processes: Processes, store: StoreTarget, root: string | null): Promise<Target> {
  const admin = benchAdmin();
  const main = root ? path.join(path.resolve(root), 'src/main.ts') : 'src/main.ts';
  const profile = name === 'this' && profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`] : [];
  const service = await processes.start(name, [...profile, '--import', 'tsx', main, 'serve'], serviceEnv(store.env, admin, name === 'this' ? thisEnv : {}), /listening on (http:\/\/\S+)/);
  const token = await login(service.url, admin);
  const all = (await call(service.url, 'GET', APPS, { token })).json as Array<{ id: string; client_id: string }>;
  const sample = { ids: all.map((a) => a.id), clientIds: all.map((a) => a.client_id) };
  const me = (await call(service.url, 'GET', `${API}/user`, { token })).json.id as string;
  // A token far from expiry for the admin on 50 applications: every read is a fresh read.
  const pairs = sample.clientIds.slice(0, 50);
  for (let i = 0; i < pairs.length; i++) {
    const expires = new Date(Date.now() + 86_400_000).toISOString();
    await call(service.url, 'POST', `${APPS}/user_state`, { token, json: { user_id: me, oauth_application_id: sample.ids[i], access_token: `at-${i}-${'x'.repeat(30)}`, access_token_expires_at: expires } });
  }
  let n = 0;
  const tokenRead: Options['requests'] = [{
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    setupRequest: (req) => ({ ...req, path: `${APPS}/${encodeURIComponent(pairs[n++ % pairs.length])}/access_token`, body: '{}' }),
  }];
  const every: Record<string, Options['requests']> = { list: listRequest(token, sample), token: tokenRead, create: createRequest(token, `${name}${Date.now()}`) };
  const paths = Object.fromEntries(Object.entries(every).filter(([p]) => only.includes(p)));
  const none = () => Object.fromEntries(Object.keys(paths).map((p) => [p, [] as number[]]));
  return { name, service, databasePids: () => store.backendPids(), paths, figures: none(), dbFigures: none() };
}

async function main() {
  const processes = createProcesses();
  const stores: StoreTarget[] = [];
  const targets: Target[] = [];
  try {
    for (const [i, root] of (base ? [base, candidate] : [candidate]).entries()) {
      const store = await prepareStore(db);
      stores.push(store);
      await seed(processes, store, { applications: 1000, prefix: 'hot-' });
      targets.push(await startTarget(base && i === 0 ? 'base' : 'this', processes, store, root));
    }
    const run = { connections, timeout: 30 };
    for (const target of targets) {
      for (const [p, requests] of Object.entries(target.paths)) check(p, await autocannon({ ...run, url: target.service.url, duration: 2, requests }));
    }
    for (let round = 0; round < rounds; round++) {
      for (const p of Object.keys(targets[0].paths)) {
        // Alternating which goes first, so neither always follows the other's load.
        for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
          const dbBefore = await databaseCpuUs(target);
          const before = cpuUsOf(target.service.pid)!;
          const sysBefore = systemUsOf(target.service.pid);
          const result = await autocannon({ ...run, url: target.service.url, duration, requests: target.paths[p] });
          const cpuUs = (cpuUsOf(target.service.pid)! - before) / result.requests.total;
          const sysUs = (systemUsOf(target.service.pid) - sysBefore) / result.requests.total;
          const dbUs = (await databaseCpuUs(target)) - dbBefore;
          check(p, result);
          target.figures[p].push(cpuUs);
          if (dbUs !== 0) target.dbFigures[p].push(dbUs / result.requests.total);
          const dbNote = dbUs === 0 ? '' : `, PostgreSQL ${(dbUs / result.requests.total).toFixed(0)} µs CPU/req`;
          console.log(`round ${round + 1} ${target.name} ${p.padEnd(6)} ${Math.round(result.requests.average)} req/s, p99 ${result.latency.p99} ms, ${cpuUs.toFixed(0)} µs CPU/req (${sysUs.toFixed(0)} in the kernel)${dbNote}`);
        }
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(`\nmedian CPU µs/req (${db}, ${rounds} rounds of ${duration} s, ${connections} connections, load average now ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
    for (const p of Object.keys(targets[0].paths)) {
      const [a, b] = targets.map((t) => median(t.figures[p]));
      console.log(`  ${p.padEnd(6)} ${targets.map((t, i) => `${t.name} ${[a, b][i].toFixed(0)}`).join(', ')}${b === undefined ? '' : `, this/base ${(b / a).toFixed(2)}`}`);
      if (targets[0].dbFigures[p].length === 0) continue;
      const [da, dbb] = targets.map((t) => median(t.dbFigures[p]));
      const [ta, tb] = [a + da, b === undefined ? undefined : b + dbb];
      console.log(`  ${''.padEnd(6)} PostgreSQL ${targets.map((t, i) => `${t.name} ${[da, dbb][i].toFixed(0)}`).join(', ')}; service + PostgreSQL ${targets.map((t, i) => `${t.name} ${[ta, tb][i]!.toFixed(0)}`).join(', ')}${tb === undefined ? '' : `, this/base ${(tb / ta).toFixed(2)}`}`);
    }
  } finally {
    for (const target of targets) await target.service.stop();
    for (const store of stores) await store.dispose();
    processes.dispose();
  }
}

/** CPU of the target's PostgreSQL backends so far (backends that exit between two readings are not counted). */
async function databaseCpuUs(target: Target): Promise<number> {
  let total = 0;
  for (const pid of await target.databasePids()) total += cpuUsOf(pid) ?? 0;
  return total;
}

/** The kernel's share of a process's CPU time, in microseconds (the socket writes, mostly). */
function systemUsOf(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[12]) / CLOCK_TICKS) * 1e6;
}

function check(name: string, result: Result) {
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
}

main().then(() => process.exit(0), (error) => {
  console.error(error);
  process.exit(1);
});
