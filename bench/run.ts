// `npm run bench [-- --db postgres] [--quick] [--duration S] [--connections N] [--scale] [--no-baseline]
//   [--unfiltered N] [--token-cache-ms N] [--audit-cost] [--out FILE]`
//
// Self-contained load benchmark: starts its own servers on 127.0.0.1 (the service as a real process, the way
// `npm start` runs it, with rate limits off), seeds data, drives them with autocannon, stops everything,
// prints a table with the goals beside the figures and writes bench/results.json. Every figure is also given
// as a ratio to the ceiling measured in the same run (a bare node:http server moving the same number of
// bytes), so runs on noisy or different machines compare. The jobs are in their own files: options.ts
// (the command line), processes.ts and store.ts (what runs, and on what), measure.ts (autocannon, CPU and
// memory), phases.ts, broker.ts and scale.ts (what is measured), report.ts (goals and tables).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { auditCost } from './audit-cost.ts';
import { brokerPhases } from './broker.ts';
import { createMeasurement } from './measure.ts';
import { parseOptions, type BenchOptions } from './options.ts';
import { baselinePhases, probe, servicePhases, type Bench } from './phases.ts';
import { benchAdmin, createProcesses, type Processes } from './processes.ts';
import { judge, printGoals, printTable } from './report.ts';
import { scalePhases } from './scale.ts';
import { prepareStore, seed } from './store.ts';

async function bench(options: BenchOptions, processes: Processes) {
  const results: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}`, loadAverage: os.loadavg() },
    args: options,
  };
  console.log(`bench: ${options.db}, ${options.connections} connections, ${options.duration} s per phase, ${os.cpus().length} CPUs, node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const [load] = os.loadavg();
  if (load > os.cpus().length) {
    console.log(`note: the machine is loaded (load average ${load.toFixed(1)} on ${os.cpus().length} CPUs): read the ratios to the ceiling and CPU µs per request, not requests/s`);
  }
  const measurement = createMeasurement(options, processes);
  const store = await prepareStore(options.db);
  const run: Bench = { options, processes, measurement, store, admin: benchAdmin(), runId: randomBytes(3).toString('hex') };
  try {
    console.log('seeding 1,000 applications');
    await seed(processes, store, { applications: 1000, prefix: `app-${run.runId}-` });
    const probed = await probe(run);
    results.ceilingBodies = { getBytes: probed.get.bytes, postBytes: probed.post.bytes };
    console.log(`ceiling: a bare node:http server answering ${probed.get.bytes} B to GET and ${probed.post.bytes} B to POST, measured before each phase`);

    if (options.baseline) await baselinePhases(run, probed);
    const service = await servicePhases(run, probed);
    await measurement.stopCeilings();
    // The OAuth broker's token reads (bench/broker.ts), against a service of their own.
    const broker = await brokerPhases(run);
    const scale = options.scale ? await scalePhases({ options, processes, measurement, admin: run.admin, runId: run.runId }) : null;

    const goals = judge(options.db, service, broker, scale);
    printTable(measurement.rows, goals);
    printGoals(options.db, goals);
    Object.assign(results, { rows: measurement.rows, memory: service.memory, audit: service.audit, scale, goals, finishedAt: new Date().toISOString() });
    fs.writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nwritten: ${path.relative(process.cwd(), options.out)}`);
  } finally {
    await measurement.stopCeilings();
    await store.dispose();
  }
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (options.auditCost) return auditCost(options.db);
  const processes = createProcesses();
  process.on('SIGINT', () => {
    processes.stopAll();
    process.exit(130);
  });
  try {
    await bench(options, processes);
  } catch (error) {
    processes.stopAll();
    throw error;
  } finally {
    processes.dispose();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`\nbench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    process.exit(1);
  },
);
