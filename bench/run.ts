// `npm run bench [-- --db postgres] [--quick] [--duration S] [--scale] [--no-baseline] [--token-cache-ms N] [--audit-cost]`
//
// Self-contained load benchmark: starts its own servers on 127.0.0.1 (the service as a real process, the way
// `npm start` runs it, with rate limits off), seeds data, drives them with autocannon, stops everything,
// prints a table and writes bench/results.json. Every figure is also given as a ratio to the ceiling
// measured in the same run (a bare node:http server moving the same number of bytes), so runs on noisy or
// different machines compare.
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon, { type Options, type Result } from 'autocannon';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { auditCost } from './audit-cost.ts';
import { brokerPhases, type BrokerTarget } from './broker.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN = { client_id: 'bench-admin', client_secret: `bench-${randomBytes(12).toString('hex')}` };
const API = '/api/4.0';
const APPS = `${API}/external_oauth_applications`;

interface Args {
  db: 'sqlite' | 'postgres';
  /** Seconds per phase. */
  duration: number;
  /** Seconds of unmeasured load before each service phase. */
  warmup: number;
  connections: number;
  /** Also measure filtered-list latency with 1,000,000 stored applications. */
  scale: boolean;
  /** Also run the "before" server: token cache off, one transaction per write. */
  baseline: boolean;
  /** Applications in the unfiltered-list phase. */
  unfiltered: number;
  /** EOA_TOKEN_CACHE_MS for the measured service; null leaves the service's default. */
  tokenCacheMs: string | null;
  /** Only the audit log's cost on a create, in process (bench/audit-cost.ts). */
  auditCost: boolean;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { db: 'sqlite', duration: 10, warmup: 3, connections: 50, scale: false, baseline: true, unfiltered: 100_000, tokenCacheMs: null, auditCost: false, out: path.join(ROOT, 'bench/results.json') };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--db') {
      const db = value();
      if (db !== 'sqlite' && db !== 'postgres') throw new Error('--db is sqlite or postgres');
      args.db = db;
    } else if (arg === '--quick') {
      args.duration = 3;
      args.warmup = 1;
    }
    else if (arg === '--duration') args.duration = positive(arg, value());
    else if (arg === '--connections') args.connections = positive(arg, value());
    else if (arg === '--scale') args.scale = true;
    else if (arg === '--no-baseline') args.baseline = false;
    else if (arg === '--unfiltered') args.unfiltered = positive(arg, value());
    else if (arg === '--out') args.out = path.resolve(value());
    else if (arg === '--token-cache-ms') args.tokenCacheMs = String(positive(arg, value()));
    else if (arg === '--audit-cost') args.auditCost = true;
    else throw new Error(`unknown argument ${arg}`);
  }
  return args;
}

function positive(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number`);
  return n;
}

// ---------------------------------------------------------------------------------------------- processes

interface Child {
  child: ChildProcess;
  url: string;
  output(): string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-bench-logs-'));

/**
 * Starts a server process whose output goes to a file (as a production log would), not through a pipe
 * to this process: autocannon shares this thread, and a pipe it does not drain would block the server.
 */
async function startProcess(label: string, argv: string[], env: Record<string, string>, ready: RegExp): Promise<Child> {
  const logFile = path.join(logDir, `${label}-${children.size}-${Date.now()}.log`);
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, argv, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  children.add(child);
  const output = () => fs.readFileSync(logFile, 'utf8').slice(-20_000);
  const exited = new Promise<void>((resolve) => child.once('exit', () => (children.delete(child), resolve())));
  const started = Date.now();
  let url: string | null = null;
  while (url === null) {
    if (child.exitCode !== null) throw new Error(`${label} exited with ${child.exitCode}:\n${output()}`);
    if (Date.now() - started > 60_000) throw new Error(`${label} did not start within 60 s:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    url = ready.exec(fs.readFileSync(logFile, 'utf8'))?.[1] ?? null;
  }
  return {
    child,
    url,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      fs.rmSync(logFile, { force: true });
    },
  };
}

async function runToEnd(argv: string[], env: Record<string, string>, onLine: (line: string) => void): Promise<void> {
  const child = spawn(process.execPath, argv, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let errors = '';
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line) onLine(line);
  });
  child.stderr!.on('data', (chunk: Buffer) => (errors += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => (children.delete(child), resolve(c))));
  if (code !== 0) throw new Error(`${argv.join(' ')} exited with ${code}:\n${errors}`);
}

/** Resident set size of a process, from /proc (Linux); null elsewhere. */
function rssMb(pid: number): number | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return kb ? Number(kb[1]) / 1024 : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------- the store

type Counted = 'external_oauth_applications' | 'audit_events';

interface StoreTarget {
  env: Record<string, string>;
  count(table?: Counted): Promise<number>;
  dispose(): Promise<void>;
}

async function prepareStore(args: Args): Promise<StoreTarget> {
  const masterKey = randomBytes(32).toString('base64');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-bench-'));
  const base = { EOA_DATA_DIR: dataDir, EOA_MASTER_KEY: masterKey };
  if (args.db === 'sqlite') {
    const file = path.join(dataDir, 'external-oauth-apps.sqlite');
    return {
      env: base,
      async count(table: Counted = 'external_oauth_applications') {
        const db = new SqliteDatabase(file, { readonly: true });
        try {
          return (db.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;
        } finally {
          db.close();
        }
      },
      async dispose() {
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `eoa_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  return {
    env: { ...base, DATABASE_URL: url.toString() },
    async count(table: Counted = 'external_oauth_applications') {
      const { rows } = await pool.query(`select count(*)::int as n from ${table}`);
      return rows[0].n;
    },
    async dispose() {
      await pool.end();
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function serviceEnv(store: StoreTarget, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...store.env,
    PORT: '0',
    HOST: '127.0.0.1',
    EOA_BOOTSTRAP_CLIENT_ID: ADMIN.client_id,
    EOA_BOOTSTRAP_CLIENT_SECRET: ADMIN.client_secret,
    EOA_RATE_LIMIT_MAX: '0',
    EOA_LOGIN_GUARD_MAX: '100000',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    ...extra,
  };
}

async function startService(store: StoreTarget, extra?: Record<string, string>) {
  const service = await startProcess('service', ['--import', 'tsx', 'src/main.ts', 'serve'], serviceEnv(store, extra), /external-oauth-apps listening on (http:\/\/\S+)/);
  servicePid = service.child.pid!;
  return service;
}

async function seed(store: StoreTarget, count: number, prefix: string) {
  if (count <= 0) return;
  const started = Date.now();
  let last = '';
  await runToEnd(['--import', 'tsx', 'src/main.ts', 'seed', String(count), '--prefix', prefix], serviceEnv(store), (line) => {
    last = line;
    process.stdout.write(`\r    ${line}`.padEnd(80));
  });
  process.stdout.write(`\r    ${last} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

// ---------------------------------------------------------------------------------------------- HTTP

async function call(base: string, method: string, url: string, init: { token?: string; json?: unknown; form?: Record<string, string> } = {}) {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  } else if (init.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  }
  const response = await fetch(`${base}${url}`, { method, headers, body });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text.slice(0, 300)}`);
  return { text, bytes: Buffer.byteLength(text), json: text ? JSON.parse(text) : null };
}

async function login(base: string): Promise<string> {
  return (await call(base, 'POST', `${API}/login`, { form: ADMIN })).json.access_token;
}

// ---------------------------------------------------------------------------------------------- phases

export interface Row {
  phase: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** Server CPU time (user + system) per answered request, in microseconds: robust to a busy machine. */
  cpuUs: number | null;
  /** The ceiling (same method and body size) measured just before this phase. */
  ceiling: { method: 'GET' | 'POST'; rps: number; p99: number; cpuUs: number | null } | null;
  /** requests/s ÷ the ceiling's requests/s. */
  ratio: number | null;
  /** p99 ÷ the ceiling's p99. */
  p99Ratio: number | null;
  /** The ceiling's CPU per request ÷ this one's: the share of the ceiling an idle machine would give. */
  cpuRatio: number | null;
  /** The service's resident memory right after the phase. */
  rssMb?: number | null;
}

const rows: Row[] = [];
let phaseNumber = 0;
/** The bare node:http server, up for the whole run; measured again before every phase it is compared with. */
let ceilingUrl = '';
let ceilingPid = 0;
let servicePid = 0;
const CLOCK_TICKS = Number(execSync('getconf CLK_TCK').toString().trim()) || 100;

/** CPU time a process has used so far (user + system), in microseconds, from /proc (Linux). */
function cpuUsOf(pid: number): number | null {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS) * 1e6;
  } catch {
    return null;
  }
}

/** Runs autocannon against a server and measures the CPU it spent per request. */
async function measured(pid: number, options: Options): Promise<{ result: Result; cpuUs: number | null }> {
  const before = cpuUsOf(pid);
  const result = await autocannon(options);
  const after = cpuUsOf(pid);
  const answered = result.requests.total;
  return { result, cpuUs: before === null || after === null || answered === 0 ? null : (after - before) / answered };
}

function progress(label: string, seconds: number) {
  phaseNumber += 1;
  process.stdout.write(`[${String(phaseNumber).padStart(2)}] ${label.padEnd(52)} ${seconds} s … `);
}

function toRow(phase: string, result: Result, ceiling: Row['ceiling'], cpuUs: number | null = null): Row {
  const row: Row = {
    phase,
    cpuUs,
    cpuRatio: ceiling?.cpuUs && cpuUs ? ceiling.cpuUs / cpuUs : null,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    ceiling,
    ratio: ceiling ? result.requests.average / ceiling.rps : null,
    p99Ratio: ceiling ? result.latency.p99 / ceiling.p99 : null,
  };
  const vs = ceiling ? ` (${row.ratio!.toFixed(2)}× ceiling)` : '';
  const cpu = cpuUs === null ? '' : `, ${Math.round(cpuUs)} µs CPU/req`;
  process.stdout.write(`${row.rps} req/s${vs}, p50 ${row.p50} ms, p99 ${row.p99} ms, non-2xx ${row.non2xx}${row.errors ? `, errors ${row.errors}` : ''}${cpu}\n`);
  return row;
}

/** The ceiling for a phase, measured right before it: on a shared machine the load around changes. */
async function ceilingFor(method: 'GET' | 'POST', args: Args): Promise<Row['ceiling']> {
  progress(`  ceiling: node:http ${method}`, args.duration);
  const { result, cpuUs } = await measured(ceilingPid, {
    url: ceilingUrl,
    connections: args.connections,
    duration: args.duration,
    timeout: 30,
    ...(method === 'POST' ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x'.repeat(120) }) } : {}),
  });
  const row = toRow(`ceiling: node:http ${method}`, result, null, cpuUs);
  rows.push({ ...row, ratio: 1, p99Ratio: 1, cpuRatio: 1 });
  return { method, rps: result.requests.average, p99: result.latency.p99, cpuUs };
}

/** Unmeasured load first, so that V8 has compiled the hot paths before the clock starts (as in production). */
async function warmUp(options: Options, args: Args) {
  await autocannon({ connections: args.connections, duration: args.warmup, timeout: 30, ...options });
}

async function load(phase: string, method: 'GET' | 'POST' | null, options: Options, args: Args): Promise<Row> {
  await warmUp(options, args);
  const ceiling = method ? await ceilingFor(method, args) : null;
  progress(phase, args.duration);
  const { result, cpuUs } = await measured(servicePid, { connections: args.connections, duration: args.duration, timeout: 30, ...options });
  const row = { ...toRow(phase, result, ceiling, cpuUs), rssMb: rssMb(servicePid) };
  rows.push(row);
  return row;
}

/** The applications the phases pick from at random: one request is one random app. */
interface Sample {
  ids: string[];
  clientIds: string[];
}
const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)];

function listRequest(token: string, sample: Sample): Options['requests'] {
  return [{ method: 'GET', headers: { authorization: `Bearer ${token}` }, setupRequest: (req) => ({ ...req, path: `${APPS}?client_id=${encodeURIComponent(pick(sample.clientIds))}` }) }];
}

function createRequest(token: string, runId: string): Options['requests'] {
  let n = 0;
  return [
    {
      method: 'POST',
      path: APPS,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      setupRequest: (req) => {
        n += 1;
        const id = `bench-${runId}-${n}`;
        return { ...req, body: JSON.stringify({ name: id, client_id: `${id}.apps.example.com`, client_secret: `secret-${id}-${randomBytes(8).toString('hex')}`, dialect_name: 'snowflake', tenant_id: null }) };
      },
    },
  ];
}

const LOGIN_BODY = new URLSearchParams(ADMIN).toString();
const loginRequest: Options['requests'] = [{ method: 'POST', path: `${API}/login`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: LOGIN_BODY }];

/** Fetches the whole unfiltered list without holding it, while sampling the server's RSS. */
async function unfilteredList(service: Child, token: string, expected: number, concurrent: number) {
  const pid = service.child.pid!;
  const before = rssMb(pid) ?? 0;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid) ?? 0)), 10);
  const started = Date.now();
  const one = async (verify: boolean) => {
    const response = await fetch(`${service.url}${APPS}`, { headers: { authorization: `Bearer ${token}` } });
    if (!response.ok) throw new Error(`unfiltered list: ${response.status}`);
    let bytes = 0;
    const chunks: Buffer[] = [];
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      if (verify) chunks.push(Buffer.from(chunk));
    }
    if (verify) {
      const count = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown[]).length;
      if (count !== expected) throw new Error(`unfiltered list answered ${count} applications, expected ${expected}`);
    }
    return bytes;
  };
  try {
    const sizes = await Promise.all(Array.from({ length: concurrent }, (_, i) => one(i === 0)));
    return { seconds: (Date.now() - started) / 1000, mb: sizes[0] / 1024 / 1024, rssBefore: before, rssPeak: Math.max(peak, rssMb(pid) ?? 0) };
  } finally {
    clearInterval(sampler);
  }
}

// ---------------------------------------------------------------------------------------------- main

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.auditCost) {
    await auditCost(args.db);
    return;
  }
  const runId = randomBytes(3).toString('hex');
  const results: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
    args,
  };
  console.log(`bench: ${args.db}, ${args.connections} connections, ${args.duration} s per phase, ${os.cpus().length} CPUs, node ${process.version}`);
  const store = await prepareStore(args);
  const memory: Record<string, number | null> = {};
  try {
    console.log('seeding 1,000 applications');
    await seed(store, 1000, `app-${runId}-`);

    // The response sizes the ceiling has to match, from the real service.
    let service = await startService(store);
    let token = await login(service.url);
    const all = (await call(service.url, 'GET', APPS, { token })).json as Array<{ id: string; client_id: string }>;
    const sample: Sample = { ids: all.map((a) => a.id), clientIds: all.map((a) => a.client_id) };
    const getBytes = (await call(service.url, 'GET', `${APPS}?client_id=${encodeURIComponent(sample.clientIds[0])}`, { token })).bytes;
    const postBytes = (await call(service.url, 'POST', APPS, { token, json: { name: `probe-${runId}`, client_id: `probe-${runId}`, client_secret: 'probe-secret', dialect_name: 'snowflake', tenant_id: null } })).bytes;
    await service.stop();

    const ceiling = await startProcess('ceiling', ['bench/ceiling-server.mjs'], { GET_BYTES: String(getBytes), POST_BYTES: String(postBytes) }, /ceiling listening on (http:\/\/\S+)/);
    ceilingUrl = ceiling.url;
    ceilingPid = ceiling.child.pid!;
    results.ceilingBodies = { getBytes, postBytes };
    console.log(`ceiling: a bare node:http server answering ${getBytes} B to GET and ${postBytes} B to POST, measured before each phase`);

    if (args.baseline) {
      // "Before": the same code with the token cache off and one transaction (one fsync) per write.
      service = await startService(store, { EOA_TOKEN_CACHE_MS: '0', EOA_WRITE_BATCH_MAX: '1' });
      token = await login(service.url);
      await load('before: filtered list, no token cache', 'GET', { url: service.url, requests: listRequest(token, sample) }, args);
      await load('before: create, one commit per write', 'POST', { url: service.url, requests: createRequest(token, `${runId}b`) }, args);
      await service.stop();
    }

    service = await startService(store, args.tokenCacheMs === null ? {} : { EOA_TOKEN_CACHE_MS: args.tokenCacheMs });
    token = await login(service.url);
    memory.rssAtStartMb = rssMb(service.child.pid!);
    // The audit log's cost: a read must write no event; a create writes exactly one, in its own transaction.
    const audit: Record<string, number> = {};
    let events = await store.count('audit_events');
    const list = await load('GET ?client_id= (filtered list)', 'GET', { url: service.url, requests: listRequest(token, sample) }, args);
    audit.eventsWrittenByFilteredList = (await store.count('audit_events')) - events;
    events = await store.count('audit_events');
    const appsBefore = await store.count();
    await load('POST external_oauth_applications (create)', 'POST', { url: service.url, requests: createRequest(token, runId) }, args);
    // Requests autocannon gave up on at the end of the phase may still commit: let them, then count.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    audit.eventsPerCreate = ((await store.count('audit_events')) - events) / Math.max(1, (await store.count()) - appsBefore);
    await load('POST login (scrypt)', 'POST', { url: service.url, requests: loginRequest }, args);
    await load('PATCH client_secret (rotation)', 'POST', {
      url: service.url,
      requests: [{ method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, path: `${APPS}/${encodeURIComponent(pick(sample.clientIds))}`, body: JSON.stringify({ client_secret: randomBytes(18).toString('base64url') }) }) }],
    }, args);
    const adminId = (await call(service.url, 'GET', `${API}/user`, { token })).json.id as string;
    await load('POST user_state', 'POST', {
      url: service.url,
      requests: [{ method: 'POST', path: `${APPS}/user_state`, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: JSON.stringify({ user_id: adminId, oauth_application_id: pick(sample.ids), access_token: randomBytes(24).toString('base64url'), access_token_expires_at: new Date(Date.now() + 3_600_000).toISOString(), refresh_token: randomBytes(24).toString('base64url') }) }) }],
    }, args);

    // The filtered list again, alone and then while logins (scrypt on libuv's thread pool) flood the same
    // process: the two p99s, measured back to back, are what the login target compares.
    const listAlone = await load('GET ?client_id= (again, just before the flood)', 'GET', { url: service.url, requests: listRequest(token, sample) }, args);
    const floodCeiling = listAlone.ceiling;
    progress('GET ?client_id= during a login flood (16 conns)', args.duration);
    const [listDuringFlood, flood] = await Promise.all([
      autocannon({ url: service.url, connections: args.connections, duration: args.duration, timeout: 30, requests: listRequest(token, sample) }),
      autocannon({ url: service.url, connections: 16, duration: args.duration, timeout: 30, requests: loginRequest }),
    ]);
    const floodRow = { ...toRow('GET ?client_id= during a login flood', listDuringFlood, floodCeiling), rssMb: rssMb(servicePid) };
    rows.push(floodRow);
    progress('  (the login flood itself)', args.duration);
    rows.push(toRow('  (the login flood itself)', flood, null));

    audit.storedEvents = await store.count('audit_events');
    await load(`GET audit_events (newest 100 of ${audit.storedEvents.toLocaleString('en')})`, 'GET', { url: service.url, requests: [{ method: 'GET', path: `${API}/audit_events?limit=100`, headers: { authorization: `Bearer ${token}` } }] }, args);
    await load('GET audit_events?action=…rotate_secret (filtered 100)', 'GET', {
      url: service.url,
      requests: [{ method: 'GET', path: `${API}/audit_events?limit=100&action=external_oauth_application.rotate_secret`, headers: { authorization: `Bearer ${token}` } }],
    }, args);

    memory.rssAfterPhasesMb = rssMb(service.child.pid!);

    // The unfiltered list at `args.unfiltered` applications: streamed, so memory stays flat.
    const stored = await store.count();
    console.log(`seeding to ${args.unfiltered.toLocaleString('en')} applications (${stored.toLocaleString('en')} stored)`);
    await seed(store, args.unfiltered - stored, `big-${runId}-`);
    const listed = await store.count();
    events = await store.count('audit_events');
    progress(`GET unfiltered list of ${listed.toLocaleString('en')}, one at a time ×3`, 0);
    const sequential: Array<Awaited<ReturnType<typeof unfilteredList>>> = [];
    for (let i = 0; i < 3; i++) sequential.push(await unfilteredList(service, token, listed, 1));
    const seqPeak = Math.max(...sequential.map((s) => s.rssPeak - sequential[0].rssBefore));
    process.stdout.write(`${sequential.map((s) => s.seconds.toFixed(2)).join(' / ')} s, ${sequential[0].mb.toFixed(1)} MB each, RSS ${sequential[0].rssBefore.toFixed(0)} → peak ${Math.max(...sequential.map((s) => s.rssPeak)).toFixed(0)} MB\n`);
    progress(`GET unfiltered list of ${listed.toLocaleString('en')}, 4 at once`, 0);
    const parallel = await unfilteredList(service, token, listed, 4);
    process.stdout.write(`${parallel.seconds.toFixed(2)} s, RSS ${parallel.rssBefore.toFixed(0)} → peak ${parallel.rssPeak.toFixed(0)} MB\n`);
    audit.eventsWrittenByUnfilteredLists = (await store.count('audit_events')) - events;
    console.log(`audit log: ${audit.eventsWrittenByFilteredList} events written by the filtered-list phase, ${audit.eventsWrittenByUnfilteredLists} by the unfiltered lists, ${audit.eventsPerCreate.toFixed(3)} per create`);
    memory.unfilteredCount = listed;
    memory.unfilteredMb = sequential[0].mb;
    memory.unfilteredSeconds = sequential[0].seconds;
    memory.unfilteredRssGrowthMb = seqPeak;
    memory.unfilteredRssGrowth4xMb = parallel.rssPeak - parallel.rssBefore;

    let atScale: Row | null = null;
    if (args.scale) {
      const now = await store.count();
      console.log(`seeding to 1,000,000 applications (${now.toLocaleString('en')} stored)`);
      await seed(store, 1_000_000 - now, `huge-${runId}-`);
      atScale = await load(`GET ?client_id= with ${(await store.count()).toLocaleString('en')} stored`, 'GET', { url: service.url, requests: listRequest(token, sample) }, args);
    }

    memory.rssAtEndMb = rssMb(service.child.pid!);
    await service.stop();
    await ceiling.stop();

    // The OAuth broker's token reads (bench/broker.ts), against a service of their own.
    const brokerTargets = await brokerPhases({
      args,
      storeEnv: store.env,
      startService: (extra) => startService(store, extra),
      startProcess,
      login,
      measured,
      warmUp: (options) => warmUp(options, args),
      progress,
      toRow,
      rows,
    });

    printTable();
    const targets = evaluate(args, list, listAlone, floodRow, atScale, memory, brokerTargets);
    Object.assign(results, { rows, memory, audit, targets, finishedAt: new Date().toISOString() });
    fs.writeFileSync(args.out, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nwritten: ${path.relative(process.cwd(), args.out)}`);
  } finally {
    await store.dispose();
    fs.rmSync(logDir, { recursive: true, force: true });
  }
}

function printTable() {
  const fmt = (n: number | null, digits = 2) => (n === null ? '' : n.toFixed(digits));
  const lines = [
    '| phase | requests/s | p50 ms | p99 ms | non-2xx | × ceiling req/s | × ceiling p99 | CPU µs/req | × ceiling CPU | RSS MB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.phase.startsWith('  ') ? '&nbsp;&nbsp;' : ''}${r.phase.trim()} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.non2xx + r.errors} | ${fmt(r.ratio)} | ${fmt(r.p99Ratio)} | ${fmt(r.cpuUs, 0)} | ${fmt(r.cpuRatio)} | ${fmt(r.rssMb ?? null, 0)} |`,
    ),
  ];
  console.log(`\n${lines.join('\n')}`);
}

function evaluate(args: Args, list: Row, listAlone: Row, flood: Row, atScale: Row | null, memory: Record<string, number | null>, broker: BrokerTarget[]) {
  const create = rows.find((r) => r.phase.startsWith('POST external_oauth_applications'))!;
  const cpu = (r: Row) => (r.cpuRatio === null ? '' : `; by CPU per request ${r.cpuRatio.toFixed(2)}×`);
  const targets: Array<{ target: string; figure: string; met: boolean }> = [
    { target: 'filtered list ≥ 0.7× ceiling', figure: `${list.ratio!.toFixed(2)}×${cpu(list)}`, met: list.ratio! >= 0.7 },
    { target: 'durable create ≥ 0.4× ceiling', figure: `${create.ratio!.toFixed(2)}×${cpu(create)}`, met: create.ratio! >= 0.4 },
    { target: 'filtered list p99 ≤ 2× ceiling p99', figure: `${list.p99Ratio!.toFixed(2)}×`, met: list.p99Ratio! <= 2 },
    { target: 'filtered list p99 during login flood ≤ 2× without', figure: `${(flood.p99 / listAlone.p99).toFixed(2)}× (${listAlone.p99} → ${flood.p99} ms)`, met: flood.p99 <= 2 * listAlone.p99 },
    {
      target: `unfiltered list of ${memory.unfilteredCount}: RSS growth ≤ 100 MB`,
      figure: `${memory.unfilteredRssGrowthMb!.toFixed(0)} MB (4 at once: ${memory.unfilteredRssGrowth4xMb!.toFixed(0)} MB)`,
      met: memory.unfilteredRssGrowthMb! <= 100,
    },
    { target: 'RSS after the whole bench ≤ 250 MB', figure: `${memory.rssAtEndMb?.toFixed(0)} MB`, met: (memory.rssAtEndMb ?? Infinity) <= 250 },
  ];
  if (atScale) {
    targets.push({ target: 'filtered list p50 at 1M ≤ 1.5× at 1,000', figure: `${(atScale.p50 / list.p50).toFixed(2)}× (p99 ${(atScale.p99 / list.p99).toFixed(2)}×)`, met: atScale.p50 <= 1.5 * list.p50 });
  }
  targets.push(...broker);
  console.log(`\n| target (${args.db}) | figure | met |\n|---|---:|---|`);
  for (const t of targets) console.log(`| ${t.target} | ${t.figure} | ${t.met ? 'yes' : '**no**'} |`);
  return targets;
}

function stopChildren() {
  for (const child of children) child.kill('SIGTERM');
}
process.on('SIGINT', () => {
  stopChildren();
  process.exit(130);
});

main().then(
  () => process.exit(0),
  (error) => {
    stopChildren();
    console.error(`\nbench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    process.exit(1);
  },
);
