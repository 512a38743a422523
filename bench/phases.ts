// The service's bench phases, in the order they run: the probe that sizes the ceilings, the "before"
// server, the measured phases (list, create, login, rotation, user_state, the list under a login flood,
// the audit log), and the unfiltered list with the service's memory. Each takes what it needs as
// arguments and hands back its figures; the rows go to the run's Measurement.
import autocannon from 'autocannon';
import type { Measurement, Row, Shape } from './measure.ts';
import { rssMb } from './measure.ts';
import type { BenchOptions } from './options.ts';
import { startService, type Admin, type Child, type Processes } from './processes.ts';
import {
  APPS, API, auditEventsRequest, call, createRequest, listRequest, login, loginRequest, rotateSecretRequest, setUserStateRequest,
  type Sample,
} from './requests.ts';
import { seed, type StoreTarget } from './store.ts';

/** What every phase of one store works with. */
export interface Bench {
  options: BenchOptions;
  processes: Processes;
  measurement: Measurement;
  store: StoreTarget;
  admin: Admin;
  /** Makes names unique to this run (the store may be seeded more than once). */
  runId: string;
}

export interface Probe {
  sample: Sample;
  /** The ceiling's shapes: the filtered list's answer (GET) and a create's (POST). */
  get: Shape;
  post: Shape;
}

export async function startBenchService(bench: Bench, extra?: Record<string, string>): Promise<Child> {
  const service = await startService(bench.processes, bench.store.env, bench.admin, extra);
  return { ...service, databasePids: () => bench.store.backendPids() };
}

/** The sample of applications, and the answer sizes the ceiling has to match, from the real service. */
export async function probe(bench: Bench): Promise<Probe> {
  const service = await startBenchService(bench);
  try {
    const token = await login(service.url, bench.admin);
    const all = (await call(service.url, 'GET', APPS, { token })).json as Array<{ id: string; client_id: string }>;
    const sample: Sample = { ids: all.map((a) => a.id), clientIds: all.map((a) => a.client_id) };
    const getBytes = (await call(service.url, 'GET', `${APPS}?client_id=${encodeURIComponent(sample.clientIds[0])}`, { token })).bytes;
    const probeId = `probe-${bench.runId}`;
    const postBytes = (await call(service.url, 'POST', APPS, { token, json: { name: probeId, client_id: probeId, client_secret: 'probe-secret', dialect_name: 'snowflake', tenant_id: null } })).bytes;
    return { sample, get: { method: 'GET', bytes: getBytes }, post: { method: 'POST', bytes: postBytes } };
  } finally {
    await service.stop();
  }
}

/** "Before": the same code with the token cache off and one transaction (one fsync) per write. */
export async function baselinePhases(bench: Bench, probed: Probe): Promise<void> {
  const service = await startBenchService(bench, { EOA_TOKEN_CACHE_MS: '0', EOA_WRITE_BATCH_MAX: '1' });
  try {
    const token = await login(service.url, bench.admin);
    await bench.measurement.load('before: filtered list, no token cache', service, probed.get, { requests: listRequest(token, probed.sample) });
    await bench.measurement.load('before: create, one commit per write', service, probed.post, { requests: createRequest(token, `${bench.runId}b`) });
  } finally {
    await service.stop();
  }
}

export interface ServiceFigures {
  list: Row;
  /** fastify with a log line and no work, answering the list's bytes: what the design leaves (measure.ts). */
  floor: Row;
  create: Row;
  listAlone: Row;
  flood: Row;
  /** Audit events written by the phases: a read must write none, a create exactly one. */
  audit: Record<string, number>;
  memory: Record<string, number | null>;
}

/** The measured service's phases, then the unfiltered list; the service is stopped at the end. */
export async function servicePhases(bench: Bench, probed: Probe): Promise<ServiceFigures> {
  const { measurement, store, options } = bench;
  const service = await startBenchService(bench, options.tokenCacheMs === null ? {} : { EOA_TOKEN_CACHE_MS: options.tokenCacheMs });
  try {
    const token = await login(service.url, bench.admin);
    const memory: Record<string, number | null> = { rssAtStartMb: rssMb(service.pid) };
    const audit: Record<string, number> = {};
    const { sample } = probed;

    let events = await store.count('audit_events');
    const list = await measurement.load('GET ?client_id= (filtered list)', service, probed.get, { requests: listRequest(token, sample) }, 'list');
    audit.eventsWrittenByFilteredList = (await store.count('audit_events')) - events;
    const floor = await measurement.floor(probed.get);
    events = await store.count('audit_events');
    const appsBefore = await store.count();
    const create = await measurement.load('POST external_oauth_applications (create)', service, probed.post, { requests: createRequest(token, bench.runId) }, 'create');
    // Requests autocannon gave up on at the end of the phase may still commit: let them, then count.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    audit.eventsPerCreate = ((await store.count('audit_events')) - events) / Math.max(1, (await store.count()) - appsBefore);
    await measurement.load('POST login (scrypt)', service, probed.post, { requests: loginRequest(bench.admin) });
    await measurement.load('PATCH client_secret (rotation)', service, probed.post, { requests: rotateSecretRequest(token, sample) });
    const adminId = (await call(service.url, 'GET', `${API}/user`, { token })).json.id as string;
    await measurement.load('POST user_state', service, probed.post, { requests: setUserStateRequest(token, adminId, sample) });

    const { listAlone, flood } = await listDuringLoginFlood(bench, service, token, probed);

    audit.storedEvents = await store.count('audit_events');
    await measurement.load(`GET audit_events (newest 100 of ${audit.storedEvents.toLocaleString('en')})`, service, probed.get, { requests: auditEventsRequest(token, 'limit=100') });
    await measurement.load('GET audit_events?action=…rotate_secret (filtered 100)', service, probed.get, {
      requests: auditEventsRequest(token, 'limit=100&action=external_oauth_application.rotate_secret'),
    });
    memory.rssAfterPhasesMb = rssMb(service.pid);

    Object.assign(memory, await unfilteredPhases(bench, service, token, audit));
    memory.rssAtEndMb = rssMb(service.pid);
    return { list, floor, create, listAlone, flood, audit, memory };
  } finally {
    await service.stop();
  }
}

/**
 * The filtered list again, alone and then while logins (scrypt on libuv's thread pool) flood the same
 * process: the two p99s, measured back to back, are what the login goal compares.
 */
async function listDuringLoginFlood(bench: Bench, service: Child, token: string, probed: Probe): Promise<{ listAlone: Row; flood: Row }> {
  const { measurement, options } = bench;
  const listAlone = await measurement.load('GET ?client_id= (again, just before the flood)', service, probed.get, { requests: listRequest(token, probed.sample) });
  measurement.progress('GET ?client_id= during a login flood (16 conns)', options.duration);
  const run = { url: service.url, duration: options.duration, timeout: 30 };
  const [listDuringFlood, logins] = await Promise.all([
    autocannon({ ...run, connections: options.connections, requests: listRequest(token, probed.sample) }),
    autocannon({ ...run, connections: 16, requests: loginRequest(bench.admin) }),
  ]);
  const flood = { ...measurement.toRow('GET ?client_id= during a login flood', listDuringFlood, listAlone.ceiling, null, 'list-flood'), rssMb: rssMb(service.pid) };
  measurement.rows.push(flood);
  measurement.progress('  (the login flood itself)', options.duration);
  measurement.rows.push(measurement.toRow('  (the login flood itself)', logins, null));
  return { listAlone, flood };
}

/** The unfiltered list at `options.unfiltered` applications: streamed, so memory stays flat. */
async function unfilteredPhases(bench: Bench, service: Child, token: string, audit: Record<string, number>): Promise<Record<string, number | null>> {
  const { measurement, store, options } = bench;
  const stored = await store.count();
  console.log(`seeding to ${options.unfiltered.toLocaleString('en')} applications (${stored.toLocaleString('en')} stored)`);
  await seed(bench.processes, store, { applications: options.unfiltered - stored, prefix: `big-${bench.runId}-` });
  const listed = await store.count();
  const events = await store.count('audit_events');
  measurement.progress(`GET unfiltered list of ${listed.toLocaleString('en')}, one at a time ×3`, 0);
  const sequential: Array<Awaited<ReturnType<typeof unfilteredList>>> = [];
  for (let i = 0; i < 3; i++) sequential.push(await unfilteredList(service, token, listed, 1));
  const seqPeak = Math.max(...sequential.map((s) => s.rssPeak - sequential[0].rssBefore));
  process.stdout.write(`${sequential.map((s) => s.seconds.toFixed(2)).join(' / ')} s, ${sequential[0].mb.toFixed(1)} MB each, RSS ${sequential[0].rssBefore.toFixed(0)} → peak ${Math.max(...sequential.map((s) => s.rssPeak)).toFixed(0)} MB\n`);
  measurement.progress(`GET unfiltered list of ${listed.toLocaleString('en')}, 4 at once`, 0);
  // On a loaded machine four lists at once can outlast the server's request timeout: that is a figure
  // (no growth measured), not a reason to lose the whole run's.
  const parallel = await unfilteredList(service, token, listed, 4).catch((error: Error) => {
    process.stdout.write(`failed: ${error.message}\n`);
    return null;
  });
  if (parallel) process.stdout.write(`${parallel.seconds.toFixed(2)} s, RSS ${parallel.rssBefore.toFixed(0)} → peak ${parallel.rssPeak.toFixed(0)} MB\n`);
  audit.eventsWrittenByUnfilteredLists = (await store.count('audit_events')) - events;
  console.log(`audit log: ${audit.eventsWrittenByFilteredList} events written by the filtered-list phase, ${audit.eventsWrittenByUnfilteredLists} by the unfiltered lists, ${audit.eventsPerCreate.toFixed(3)} per create`);
  return {
    unfilteredCount: listed,
    unfilteredMb: sequential[0].mb,
    unfilteredSeconds: sequential[0].seconds,
    unfilteredRssGrowthMb: seqPeak,
    unfilteredRssGrowth4xMb: parallel ? parallel.rssPeak - parallel.rssBefore : null,
  };
}

/** Fetches the whole unfiltered list without holding it, while sampling the server's RSS. */
async function unfilteredList(service: Child, token: string, expected: number, concurrent: number) {
  const before = rssMb(service.pid) ?? 0;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(service.pid) ?? 0)), 10);
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
    return { seconds: (Date.now() - started) / 1000, mb: sizes[0] / 1024 / 1024, rssBefore: before, rssPeak: Math.max(peak, rssMb(service.pid) ?? 0) };
  } finally {
    clearInterval(sampler);
  }
}
