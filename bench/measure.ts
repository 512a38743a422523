// Measurement: autocannon runs, the CPU a process spends per request and its resident memory (both from
// /proc), and the ceiling each figure is divided by. A `Measurement` belongs to one run: it holds that
// run's rows and the ceiling processes it started.
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import autocannon, { type Options, type Result } from 'autocannon';
import type { BenchOptions } from './options.ts';
import { startCeiling, startFloor, type Child, type Processes } from './processes.ts';

export interface Ceiling {
  method: 'GET' | 'POST';
  rps: number;
  p99: number;
  cpuUs: number | null;
}

export interface Row {
  /** What the goals find this row by (report.ts); absent for rows no goal reads. */
  key?: string;
  phase: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** Server CPU time (user + system) per answered request, in microseconds: robust to a busy machine. */
  cpuUs: number | null;
  /** PostgreSQL: its backends' CPU time per answered request (work the server's own figure leaves out). */
  dbCpuUs?: number | null;
  /** The ceiling (same method and body size) measured just before this phase. */
  ceiling: Ceiling | null;
  /** requests/s ÷ the ceiling's requests/s. */
  ratio: number | null;
  /** p99 ÷ the ceiling's p99. */
  p99Ratio: number | null;
  /** The ceiling's CPU per request ÷ this one's: the share of the ceiling an idle machine would give. */
  cpuRatio: number | null;
  /** The service's resident memory right after the phase. */
  rssMb?: number | null;
}

/** What is measured and compared with the ceiling: a method and the size of the answer's body. */
export interface Shape {
  method: 'GET' | 'POST';
  bytes: number;
  /** The request body a POST sends the ceiling; default, about the size of a create's. */
  requestBody?: string;
}

export interface Measurement {
  readonly rows: Row[];
  /** Prints the numbered label of the next phase; its figures follow on the same line. */
  progress(label: string, seconds: number): void;
  /** Runs autocannon against `pid`'s server and the CPU it spent per answered request. */
  measured(pid: number, options: Options, databasePids?: () => Promise<number[]>): Promise<{ result: Result; cpuUs: number | null; dbCpuUs: number | null }>;
  /** Turns a result into a row and prints its figures (the row is not recorded). */
  toRow(phase: string, result: Result, ceiling: Ceiling | null, cpuUs?: number | null, key?: string): Row;
  /** Unmeasured load, so that V8 has compiled the hot paths before the clock starts (as in production). */
  warmUp(options: Options): Promise<void>;
  /** The ceiling for a shape, measured now (and recorded as a row): on a shared machine the load changes. */
  ceiling(shape: Shape): Promise<Ceiling>;
  /** Warm-up, the ceiling for `shape` (if any), then the phase on `service`; the row is recorded. */
  load(phase: string, service: Child, shape: Shape | null, options: Omit<Options, 'url'>, key?: string): Promise<Row>;
  /**
   * The floor for a GET of `shape`: fastify with a request log line and nothing else (bench/floor-server.mjs),
   * measured against a ceiling taken just before, as a phase is. Recorded as a row keyed `floor`.
   */
  floor(shape: Shape): Promise<Row>;
  /** Stops the ceiling servers started so far. */
  stopCeilings(): Promise<void>;
}

export const CLOCK_TICKS = Number(execSync('getconf CLK_TCK').toString().trim()) || 100;

/** CPU time a process has used so far (user + system), in microseconds, from /proc (Linux). */
export function cpuUsOf(pid: number): number | null {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS) * 1e6;
  } catch {
    return null;
  }
}

/** Resident set size of a process, from /proc (Linux); null elsewhere. */
export function rssMb(pid: number): number | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return kb ? Number(kb[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** What a POST sends the ceiling unless told: about the size of a create's body. */
const CEILING_POST_BODY = JSON.stringify({ name: 'x'.repeat(120) });

export function createMeasurement(options: BenchOptions, processes: Processes): Measurement {
  const rows: Row[] = [];
  const ceilings = new Map<string, Promise<Child>>();
  let phaseNumber = 0;
  const run = { connections: options.connections, duration: options.duration, timeout: 30 };

  const measurement: Measurement = {
    rows,

    progress(label, seconds) {
      phaseNumber += 1;
      process.stdout.write(`[${String(phaseNumber).padStart(2)}] ${label.padEnd(52)} ${seconds} s … `);
    },

    async measured(pid, autocannonOptions, databasePids) {
      const cpuOf = async () => new Map((await (databasePids?.() ?? Promise.resolve([]))).map((p) => [p, cpuUsOf(p) ?? 0]));
      const dbBefore = await cpuOf();
      const before = cpuUsOf(pid);
      const result = await autocannon(autocannonOptions);
      const after = cpuUsOf(pid);
      const dbAfter = await cpuOf();
      const answered = result.requests.total;
      // A backend that appeared during the phase counts whole; one that ended during it is lost (rare: the
      // pool has grown in the warm-up).
      let db = 0;
      for (const [p, cpu] of dbAfter) db += cpu - (dbBefore.get(p) ?? 0);
      return {
        result,
        cpuUs: before === null || after === null || answered === 0 ? null : (after - before) / answered,
        dbCpuUs: databasePids === undefined || dbAfter.size === 0 || answered === 0 ? null : db / answered,
      };
    },

    toRow(phase, result, ceiling, cpuUs = null, key) {
      const row: Row = {
        ...(key ? { key } : {}),
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
    },

    async warmUp(autocannonOptions) {
      await autocannon({ ...run, duration: options.warmup, ...autocannonOptions });
    },

    async ceiling(shape) {
      const key = `${shape.method}:${shape.bytes}`;
      if (!ceilings.has(key)) ceilings.set(key, startCeiling(processes, shape.bytes, shape.bytes));
      const server = await ceilings.get(key)!;
      const label = `ceiling: node:http ${shape.method} (${shape.bytes} B)`;
      measurement.progress(`  ${label}`, options.duration);
      const { result, cpuUs } = await measurement.measured(server.pid, {
        ...run,
        url: server.url,
        ...(shape.method === 'POST' ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: shape.requestBody ?? CEILING_POST_BODY } : {}),
      });
      rows.push({ ...measurement.toRow(label, result, null, cpuUs), ratio: 1, p99Ratio: 1, cpuRatio: 1 });
      return { method: shape.method, rps: result.requests.average, p99: result.latency.p99, cpuUs };
    },

    async floor(shape) {
      const server = await startFloor(processes, shape.bytes);
      try {
        return await measurement.load(`  floor: fastify + request log ${shape.method} (${shape.bytes} B)`, server, shape, {}, 'floor');
      } finally {
        await server.stop();
      }
    },

    async load(phase, service, shape, autocannonOptions, key) {
      await measurement.warmUp({ ...autocannonOptions, url: service.url });
      const ceiling = shape ? await measurement.ceiling(shape) : null;
      measurement.progress(phase, options.duration);
      const { result, cpuUs, dbCpuUs } = await measurement.measured(service.pid, { ...run, ...autocannonOptions, url: service.url }, service.databasePids);
      const row = { ...measurement.toRow(phase, result, ceiling, cpuUs, key), ...(dbCpuUs === null ? {} : { dbCpuUs }), rssMb: rssMb(service.pid) };
      if (dbCpuUs !== null) process.stdout.write(`     PostgreSQL backends: ${Math.round(dbCpuUs)} µs CPU/req\n`);
      rows.push(row);
      return row;
    },

    async stopCeilings() {
      const started = [...ceilings.values()];
      ceilings.clear();
      for (const server of started) await (await server).stop();
    },
  };
  return measurement;
}
