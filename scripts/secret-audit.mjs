// The secret hygiene audit, run by scripts/run-tests.mjs after the suite: every secret and token the tests
// used (recorded by test/helpers/audit.ts into EOA_TEST_AUDIT_DIR) is looked for, as raw bytes, in every
// file of every test data directory (the SQLite file, its -wal and -shm, backups; on PostgreSQL a text dump
// of each test database taken before it is dropped), in every captured log,
// and in every captured response. Allowed: an API credential's client_secret in the one response that
// created it (the API's JSON, or the web console's page that shows a new secret once), an access token in
// the one login response that issued it. The console's session token travels only in a cookie header, so it
// is allowed in no response body. Anything else is a finding and
// fails the run. Usage: node scripts/secret-audit.mjs AUDIT_DIR
import fs from 'node:fs';
import path from 'node:path';

/** Multi-pattern search over bytes (Aho-Corasick): one pass per file whatever the number of secrets. */
class Matcher {
  constructor(patterns) {
    this.next = [new Map()];
    this.fail = [0];
    this.out = [[]];
    patterns.forEach((bytes, index) => {
      let node = 0;
      for (const byte of bytes) {
        let child = this.next[node].get(byte);
        if (child === undefined) {
          child = this.next.push(new Map()) - 1;
          this.fail.push(0);
          this.out.push([]);
          this.next[node].set(byte, child);
        }
        node = child;
      }
      this.out[node].push(index);
    });
    const queue = [...this.next[0].values()];
    for (let i = 0; i < queue.length; i += 1) {
      const node = queue[i];
      for (const [byte, child] of this.next[node]) {
        let f = this.fail[node];
        while (f !== 0 && !this.next[f].has(byte)) f = this.fail[f];
        const target = this.next[f].get(byte);
        this.fail[child] = target !== undefined && target !== child ? target : 0;
        this.out[child] = this.out[child].concat(this.out[this.fail[child]]);
        queue.push(child);
      }
    }
  }

  /** Indexes of the patterns found in `buffer`. */
  find(buffer) {
    const found = new Set();
    let node = 0;
    for (let i = 0; i < buffer.length; i += 1) {
      const byte = buffer[i];
      while (node !== 0 && !this.next[node].has(byte)) node = this.fail[node];
      node = this.next[node].get(byte) ?? 0;
      for (const index of this.out[node]) found.add(index);
    }
    return found;
  }
}

function readJsonLines(file) {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

function filesUnder(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(full);
    // The key file holds the master key, which is not one of the secrets tracked here.
    return entry.isFile() && entry.name !== 'master.key' ? [full] : [];
  });
}

export function audit(auditDir) {
  const entries = fs
    .readdirSync(auditDir)
    .filter((name) => name.endsWith('.jsonl') && !name.endsWith('.responses.jsonl'))
    .flatMap((name) => readJsonLines(path.join(auditDir, name)));

  // One entry per secret value; the responses allowed to carry it are those it was issued in.
  const secrets = new Map();
  const dataDirs = new Set();
  for (const entry of entries) {
    if (entry.type === 'data-dir') dataDirs.add(entry.path);
    if (entry.type !== 'secret') continue;
    const known = secrets.get(entry.value) ?? { labels: new Set(), allowed: new Set() };
    known.labels.add(entry.label);
    if (entry.origin.kind === 'response') known.allowed.add(entry.origin.responseId);
    secrets.set(entry.value, known);
  }
  const values = [...secrets.keys()];
  const matcher = new Matcher(values.map((v) => Buffer.from(v, 'utf8')));
  const findings = [];
  const describe = (index) => `${[...secrets.get(values[index]).labels].join(' / ')} (${values[index].slice(0, 4)}…)`;

  let responses = 0;
  for (const name of fs.readdirSync(auditDir).filter((n) => n.endsWith('.responses.jsonl'))) {
    for (const response of readJsonLines(path.join(auditDir, name))) {
      responses += 1;
      for (const index of matcher.find(Buffer.from(response.body, 'utf8'))) {
        if (!secrets.get(values[index]).allowed.has(response.id)) {
          findings.push(`response ${response.method} ${response.url} ${response.status} carries ${describe(index)}`);
        }
      }
    }
  }

  const logFiles = filesUnder(path.join(auditDir, 'logs'));
  for (const file of logFiles) {
    for (const index of matcher.find(fs.readFileSync(file))) findings.push(`log ${path.basename(file)} carries ${describe(index)}`);
  }

  let dbFiles = 0;
  let dbBytes = 0;
  for (const dir of dataDirs) {
    for (const file of filesUnder(dir)) {
      const bytes = fs.readFileSync(file);
      dbFiles += 1;
      dbBytes += bytes.length;
      for (const index of matcher.find(bytes)) findings.push(`file ${file} carries ${describe(index)} in plaintext`);
    }
  }

  const issuedOnce = [...secrets.values()].filter((s) => s.allowed.size > 0).length;
  return {
    findings,
    summary:
      `secret audit: ${secrets.size} secrets and tokens (${issuedOnce} issued in a response), ${responses} responses, ` +
      `${logFiles.length} logs, ${dataDirs.size} data dirs (${dbFiles} files, ${(dbBytes / 1048576).toFixed(1)} MiB): ` +
      `${findings.length} finding(s)`,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2];
  if (!dir || !fs.existsSync(dir)) {
    console.error('usage: node scripts/secret-audit.mjs AUDIT_DIR');
    process.exit(2);
  }
  const { findings, summary } = audit(dir);
  for (const finding of findings.slice(0, 50)) console.error(`secret audit finding: ${finding}`);
  console.log(summary);
  process.exit(findings.length === 0 ? 0 : 1);
}
