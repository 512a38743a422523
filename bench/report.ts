// The report: the goals of the performance work judged on this run's figures, the table of every phase
// with its goals beside it, and the goals with a pass/miss mark. Every throughput goal is a ratio to the
// ceiling measured just before the phase, with CPU µs per request beside it (it moves less with load).
import type { BrokerFigures } from './broker.ts';
import type { Row } from './measure.ts';
import type { ServiceFigures } from './phases.ts';
import type { ScaleFigures } from './scale.ts';

export interface Goal {
  /** The row the goal is about, shown beside it in the table. */
  rowKey?: string;
  goal: string;
  /** The goal in a few words, for the table's column beside the row. */
  short?: string;
  figure: string;
  met: boolean;
  /** Set by a goal of an earlier issue, kept so that nothing regresses unseen. */
  standing?: boolean;
}

const RSS_LIMIT_MB = 250;
const SCALE_SLOWDOWN = 1.5;

const fixed = (n: number | null | undefined, digits = 2) => (n === null || n === undefined || Number.isNaN(n) ? '–' : n.toFixed(digits));
const cpuBeside = (row: Row) =>
  `${fixed(row.cpuUs, 0)} µs CPU/req (ceiling ${fixed(row.ceiling?.cpuUs, 0)})${row.dbCpuUs == null ? '' : ` + ${fixed(row.dbCpuUs, 0)} µs in PostgreSQL`}`;

/** requests/s at least `share` of the ceiling's. */
function throughput(row: Row, share: number, what: string): Goal {
  return {
    rowKey: row.key,
    goal: `${what} ≥ ${share}× ceiling`,
    short: `≥ ${share}× req/s`,
    figure: `${fixed(row.ratio)}× (${row.rps.toLocaleString('en')} vs ${Math.round(row.ceiling?.rps ?? 0).toLocaleString('en')} req/s); ${cpuBeside(row)}`,
    met: (row.ratio ?? 0) >= share,
  };
}

export function judge(db: 'sqlite' | 'postgres', service: ServiceFigures, broker: BrokerFigures, scale: ScaleFigures | null): Goal[] {
  const { list, floor, create, listAlone, flood, memory } = service;
  const goals: Goal[] = [];
  // Beside the list's throughput goal: the share of the ceiling that fastify and a log line alone reach.
  const listThroughput = (share: number) => {
    const goal = throughput(list, share, 'filtered list');
    return { ...goal, figure: `${goal.figure}; the floor (fastify + log line, no work) ${fixed(floor.ratio)}×, ${fixed(floor.cpuUs, 0)} µs CPU/req` };
  };
  if (db === 'sqlite') {
    goals.push(
      listThroughput(0.6),
      { rowKey: list.key, goal: 'filtered list ≤ 45 µs CPU/request', short: '≤ 45 µs CPU', figure: cpuBeside(list), met: list.cpuUs !== null && list.cpuUs <= 45 },
      throughput(broker.freshRead, 0.5, 'fresh-token read'),
      throughput(create, 0.35, 'durable create (every write fsynced)'),
      { rowKey: list.key, goal: "filtered list p99 ≤ 2.5× the ceiling's p99", short: 'p99 ≤ 2.5×', figure: `${fixed(list.p99Ratio)}× (${list.p99} vs ${list.ceiling?.p99} ms)`, met: (list.p99Ratio ?? Infinity) <= 2.5 },
    );
  } else {
    goals.push(listThroughput(0.3), throughput(broker.freshRead, 0.3, 'fresh-token read'));
  }
  if (scale) {
    // Judged on CPU µs per request, the service's and (PostgreSQL) its backends': the two sizes are measured
    // minutes apart (the seeding is between them), and a shared machine's load changes more over minutes
    // than between a phase and its ceiling.
    const cpu = (row: Row) => (row.cpuUs === null ? null : row.cpuUs + (row.dbCpuUs ?? 0));
    const slower = (key: 'tokenRead' | 'userStatesList', what: string): Goal => {
      const small = scale.small[key];
      const large = scale.large[key];
      const [before, after] = [cpu(small), cpu(large)];
      const slowdown = before !== null && after !== null ? after / before : Infinity;
      return {
        rowKey: large.key,
        goal: `${what} at ${scale.large.userStates.toLocaleString('en')} rows within ${SCALE_SLOWDOWN}× of ${scale.small.userStates.toLocaleString('en')} (CPU µs/request)`,
        short: `≤ ${SCALE_SLOWDOWN}× the CPU/request at ${scale.small.userStates.toLocaleString('en')}`,
        figure:
          `${fixed(slowdown)}× (${fixed(before, 0)} → ${fixed(after, 0)} µs CPU/req${large.dbCpuUs == null ? '' : ', service and database'}; ${fixed(small.ratio)}× → ${fixed(large.ratio)}× ceiling; ` +
          `one request alone ${fixed(scale.small.alone[key], 1)} → ${fixed(scale.large.alone[key], 1)} ms)`,
        met: slowdown <= SCALE_SLOWDOWN,
      };
    };
    goals.push(slower('tokenRead', 'token read'), slower('userStatesList', 'user-state status list'));
    goals.push({
      goal: `scale service RSS after its phases at ${scale.large.applications.toLocaleString('en')} rows < ${RSS_LIMIT_MB} MB`,
      figure: `${fixed(scale.large.rssMb, 0)} MB`,
      met: (scale.large.rssMb ?? Infinity) < RSS_LIMIT_MB,
    });
  }
  goals.push({ goal: `service RSS after the whole bench < ${RSS_LIMIT_MB} MB`, figure: `${fixed(memory.rssAtEndMb, 0)} MB`, met: (memory.rssAtEndMb ?? Infinity) < RSS_LIMIT_MB });

  goals.push(
    { standing: true, rowKey: flood.key, goal: 'filtered list p99 during a login flood ≤ 2× without', figure: `${fixed(flood.p99 / listAlone.p99)}× (${listAlone.p99} → ${flood.p99} ms)`, met: flood.p99 <= 2 * listAlone.p99 },
    {
      standing: true,
      goal: `unfiltered list of ${memory.unfilteredCount?.toLocaleString('en')}: RSS growth ≤ 100 MB`,
      figure: `${fixed(memory.unfilteredRssGrowthMb, 0)} MB (4 at once: ${fixed(memory.unfilteredRssGrowth4xMb, 0)} MB)`,
      met: (memory.unfilteredRssGrowthMb ?? Infinity) <= 100,
    },
    { standing: true, rowKey: broker.freshRead.key, goal: 'fresh-token reads cause no refresh', figure: `${broker.refreshesDuringFresh} refreshes`, met: broker.refreshesDuringFresh === 0 },
    {
      standing: true,
      goal: `${broker.concurrentReads} concurrent reads of one expired token: exactly one refresh`,
      figure: `${broker.refreshes} refresh(es), ${broker.revoked} revoked, ${broker.failedAnswers} failed answers`,
      met: broker.refreshes === 1 && broker.revoked === 0 && broker.failedAnswers === 0,
    },
    {
      standing: true,
      goal: "… p99 added by the refresh ≤ the provider's own latency + 50 ms",
      figure: `added ${broker.burstP99 - broker.freshBurstP99} ms (p99 ${broker.burstP99} vs ${broker.freshBurstP99} ms for a fresh token) vs provider ${fixed(broker.providerMs, 1)} ms + 50`,
      met: broker.burstP99 - broker.freshBurstP99 <= broker.providerMs + 50,
    },
  );
  return goals;
}

const mark = (met: boolean) => (met ? 'pass' : '**miss**');

export function printTable(rows: Row[], goals: Goal[]) {
  const beside = (row: Row) => goals.filter((g) => g.rowKey !== undefined && g.rowKey === row.key && !g.standing);
  const lines = [
    '| phase | requests/s | p50 ms | p99 ms | non-2xx | × ceiling req/s | × ceiling p99 | CPU µs/req | × ceiling CPU | DB CPU µs/req | RSS MB | goal |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => {
      const own = beside(r);
      return (
        `| ${r.phase.startsWith('  ') ? '&nbsp;&nbsp;' : ''}${r.phase.trim()} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.non2xx + r.errors} | ` +
        `${r.ratio === null ? '' : fixed(r.ratio)} | ${r.p99Ratio === null ? '' : fixed(r.p99Ratio)} | ${r.cpuUs === null ? '' : fixed(r.cpuUs, 0)} | ` +
        `${r.cpuRatio === null ? '' : fixed(r.cpuRatio)} | ${r.dbCpuUs == null ? '' : fixed(r.dbCpuUs, 0)} | ${r.rssMb == null ? '' : fixed(r.rssMb, 0)} | ` +
        `${own.map((g) => `${g.short ?? g.goal}: ${mark(g.met)}`).join('; ')} |`
      );
    }),
  ];
  console.log(`\n${lines.join('\n')}`);
}

export function printGoals(db: 'sqlite' | 'postgres', goals: Goal[]) {
  const lines = [`| goal (${db}) | figure | |`, '|---|---|---|'];
  for (const g of goals) lines.push(`| ${g.standing ? '(standing) ' : ''}${g.goal} | ${g.figure} | ${mark(g.met)} |`);
  const missed = goals.filter((g) => !g.met).length;
  console.log(`\n${lines.join('\n')}\n\n${goals.length - missed} of ${goals.length} goals met`);
}
