// The command line of `npm run bench`, read once into a typed object that every part of the bench receives.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root: the service and the seed command run from here, as `npm start` runs them. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const USAGE =
  'npm run bench [-- --db postgres] [--quick] [--duration S] [--connections N] [--scale] [--no-baseline] ' +
  '[--unfiltered N] [--token-cache-ms N] [--audit-cost] [--out FILE]';

export interface BenchOptions {
  db: 'sqlite' | 'postgres';
  /** Seconds per phase. */
  duration: number;
  /** Seconds of unmeasured load before each service phase. */
  warmup: number;
  connections: number;
  /** Also measure the filtered list, the token read and the user-state list at 1,000 and at 1,000,000 rows. */
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

export function parseOptions(argv: string[]): BenchOptions {
  const options: BenchOptions = {
    db: 'sqlite', duration: 10, warmup: 3, connections: 50, scale: false, baseline: true, unfiltered: 100_000,
    tokenCacheMs: null, auditCost: false, out: path.join(ROOT, 'bench/results.json'),
  };
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
      options.db = db;
    } else if (arg === '--quick') {
      options.duration = 3;
      options.warmup = 1;
    }
    else if (arg === '--duration') options.duration = positive(arg, value());
    else if (arg === '--connections') options.connections = positive(arg, value());
    else if (arg === '--scale') options.scale = true;
    else if (arg === '--no-baseline') options.baseline = false;
    else if (arg === '--unfiltered') options.unfiltered = positive(arg, value());
    else if (arg === '--out') options.out = path.resolve(value());
    else if (arg === '--token-cache-ms') options.tokenCacheMs = String(positive(arg, value()));
    else if (arg === '--audit-cost') options.auditCost = true;
    else throw new Error(`unknown argument ${arg}\nusage: ${USAGE}`);
  }
  return options;
}

function positive(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number`);
  return n;
}
