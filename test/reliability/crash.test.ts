import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { TEST_MASTER_KEY } from '../helpers/app.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { appSecretKey, createUser, httpClient, login, randomSecret, readAuditEvents, readStore, runCli, storeEnv, tokenKey, type Send } from './support.ts';

/**
 * Crash safety. The real server process takes concurrent writes (application creates, secret rotations,
 * deletes, user-state writes) from several clients; it is SIGKILLed at a random moment, restarted on the
 * same data, and the store is held against what the clients were told:
 *   - every write answered 200 is there and its sealed secret opens to what was sent (or, where the same
 *     client had a later write in flight at the kill, to that one: either outcome is a completed write);
 *   - nothing half-written: every stored secret opens, a user state's two tokens come from one write,
 *     no application or token exists that no request sent, no user state outlives its application;
 *   - the restarted server lists exactly what is stored, and `doctor` reports a clean store;
 *   - the audit log matches the changes: every request sends its own x-request-id; an acknowledged write
 *     has its event, a write cut by the kill has its event exactly when its change is stored, and no
 *     event names a write that no request made (the event shares the change's transaction).
 * EOA_CRASH_ROUNDS (default 3) kills, EOA_CRASH_WORKERS (default 6) concurrent clients, EOA_CRASH_SEED
 * replays the kill points and the mix of operations.
 */
const ROUNDS = Number(process.env.EOA_CRASH_ROUNDS ?? 3);
const WORKERS = Number(process.env.EOA_CRASH_WORKERS ?? 6);
const SEED = Number(process.env.EOA_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: a small seeded generator, so kill points and operations replay from the seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

const ABSENT = Symbol('absent');
type Outcome = string | typeof ABSENT;

/** What one stored thing may be after a crash: its last acknowledged value, or its write still in flight. */
class Ledger {
  private readonly entries = new Map<string, { acked: Outcome; inflight?: Outcome }>();

  send(key: string, value: Outcome) {
    const entry = this.entries.get(key) ?? { acked: ABSENT };
    entry.inflight = value;
    this.entries.set(key, entry);
  }

  ack(key: string) {
    const entry = this.entries.get(key)!;
    entry.acked = entry.inflight!;
    delete entry.inflight;
  }

  allowed(key: string): Outcome[] {
    const entry = this.entries.get(key);
    if (!entry) return [ABSENT];
    return entry.inflight === undefined ? [entry.acked] : [entry.acked, entry.inflight];
  }

  /** After a verified restart, what is stored is the new acknowledged state. */
  settle(key: string, actual: Outcome) {
    this.entries.set(key, { acked: actual });
  }

  keys() {
    return [...this.entries.keys()];
  }
}

interface OwnApp {
  id: string;
  client_id: string;
  userId: string;
  deleted: boolean;
}

const stateKey = (userId: string, appId: string) => `state|${userId}|${appId}`;

/** One write request as the audit log must show it: its event's action, and what its change stores. */
interface SentWrite {
  requestId: string;
  action: string;
  key: string;
  value: Outcome;
  acked: boolean;
}
const WRITE_ACTIONS = new Set(['external_oauth_application.create', 'external_oauth_application.rotate_secret', 'external_oauth_application.delete', 'user_state.set']);

test(`crash safety: ${ROUNDS} rounds of SIGKILL under concurrent writes, restart, nothing lost or half-written`, async () => {
  const random = prng(SEED);
  const ledger = new Ledger();
  const apps: OwnApp[][] = Array.from({ length: WORKERS }, () => []);
  let server: ServerProcess = await startServer();
  const restartEnv = { ...(server.env.DATABASE_URL ? { DATABASE_URL: server.env.DATABASE_URL } : {}) };
  const storeConfig = { dataDir: server.dataDir, databaseUrl: server.env.DATABASE_URL || null, database: { poolMax: 2, statementTimeoutMs: 0 } };
  let send: Send = httpClient(server.baseUrl);
  const users = await Promise.all([0, 1, 2].map(async () => createUser(send, await login(send))));
  let acknowledged = 0;
  let lost = 0;
  const unexpected: string[] = [];
  const sent = new Map<string, SentWrite>();
  /** Every request id any round sent: earlier rounds' events stay in the log. */
  const everSent = new Set<string>();
  let auditedWrites = 0;
  /** Records a write about to be sent; its request id goes in x-request-id. */
  const track = (action: string, key: string, value: Outcome): SentWrite => {
    const write: SentWrite = { requestId: `crash-${randomBytes(8).toString('hex')}`, action, key, value, acked: false };
    sent.set(write.requestId, write);
    everSent.add(write.requestId);
    return write;
  };

  try {
    for (let round = 1; round <= ROUNDS; round += 1) {
      const admin = await login(send);
      let killed = false;
      let roundAcks = 0;

      /** One client: a sequence of writes on its own applications, so each key has one writer. */
      const worker = async (w: number) => {
        const own = apps[w];
        while (!killed) {
          const live = own.filter((a) => !a.deleted);
          const roll = random();
          try {
            if (live.length < 2 || roll < 0.35) {
              const client_id = `crash/${w}/${randomBytes(5).toString('hex')} %?`;
              const secret = randomSecret();
              ledger.send(appSecretKey(client_id), secret);
              const write = track('external_oauth_application.create', appSecretKey(client_id), secret);
              const reply = await send('POST', '/api/4.0/external_oauth_applications', { name: `crash ${client_id}`, client_id, client_secret: secret, dialect_name: 'snowflake' }, admin, write.requestId);
              if (reply.statusCode !== 200) throw new Error(`create answered ${reply.statusCode}: ${reply.body}`);
              ledger.ack(appSecretKey(client_id));
              write.acked = true;
              own.push({ id: JSON.parse(reply.body).id, client_id, userId: users[w % users.length], deleted: false });
            } else {
              const app = live[Math.floor(random() * live.length)];
              if (roll < 0.75) {
                const access = randomSecret();
                const refresh = random() < 0.5 ? randomSecret() : null;
                const key = stateKey(app.userId, app.id);
                ledger.send(key, `${access}|${refresh ?? ''}`);
                const write = track('user_state.set', key, `${access}|${refresh ?? ''}`);
                const reply = await send(
                  'POST',
                  '/api/4.0/external_oauth_applications/user_state',
                  { user_id: app.userId, oauth_application_id: app.id, access_token: access, access_token_expires_at: '2031-01-01T00:00:00Z', refresh_token: refresh },
                  admin,
                  write.requestId,
                );
                if (reply.statusCode !== 200) throw new Error(`user_state answered ${reply.statusCode}: ${reply.body}`);
                ledger.ack(key);
                write.acked = true;
              } else if (roll < 0.92) {
                const secret = randomSecret();
                ledger.send(appSecretKey(app.client_id), secret);
                const write = track('external_oauth_application.rotate_secret', appSecretKey(app.client_id), secret);
                const reply = await send('PATCH', `/api/4.0/external_oauth_applications/${encodeURIComponent(app.client_id)}`, { client_secret: secret }, admin, write.requestId);
                if (reply.statusCode !== 200) throw new Error(`update answered ${reply.statusCode}: ${reply.body}`);
                ledger.ack(appSecretKey(app.client_id));
                write.acked = true;
              } else {
                ledger.send(appSecretKey(app.client_id), ABSENT);
                ledger.send(stateKey(app.userId, app.id), ABSENT);
                app.deleted = true;
                const write = track('external_oauth_application.delete', appSecretKey(app.client_id), ABSENT);
                const reply = await send('DELETE', `/api/4.0/external_oauth_applications/${encodeURIComponent(app.client_id)}`, undefined, admin, write.requestId);
                if (reply.statusCode !== 204) throw new Error(`delete answered ${reply.statusCode}: ${reply.body}`);
                ledger.ack(appSecretKey(app.client_id));
                ledger.ack(stateKey(app.userId, app.id));
                write.acked = true;
              }
            }
            roundAcks += 1;
          } catch (error) {
            // After the kill, a refused or reset connection is the expected end; before it, a failure.
            if (!killed) unexpected.push(`round ${round} worker ${w}: ${(error as Error).message}`);
            return;
          }
        }
      };

      const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
      const killAfterMs = 300 + Math.floor(random() * 1500);
      await new Promise((resolve) => setTimeout(resolve, killAfterMs));
      killed = true;
      await server.kill();
      await Promise.all(workers);

      server = await startServer({ dataDir: storeConfig.dataDir, env: restartEnv });
      send = httpClient(server.baseUrl);
      const result = await verify(round, storeConfig, ledger, apps);
      acknowledged += roundAcks;
      lost += result.lost.length;
      assert.deepEqual(result.lost, [], `round ${round}: acknowledged writes lost or changed (seed ${SEED})`);
      assert.deepEqual(result.corrupt, [], `round ${round}: half-written or unexplained data (seed ${SEED})`);

      // The audit log against the writes: one event per change, and none without it.
      const events = await readAuditEvents(storeConfig);
      const mismatched: string[] = [];
      for (const write of sent.values()) {
        const recorded = events.get(write.requestId)?.filter((action) => action === write.action).length ?? 0;
        const stored = result.stored.get(write.key) ?? ABSENT;
        // A write cut by the kill either happened (its change is stored) or did not; its event must agree.
        const happened = write.acked || stored === write.value;
        if (recorded !== (happened ? 1 : 0)) {
          mismatched.push(`${write.action} ${write.acked ? 'acknowledged' : 'cut by the kill'}, change ${happened ? 'stored' : 'absent'}, ${recorded} event(s)`);
        }
        if (recorded > 0) auditedWrites += 1;
      }
      for (const [requestId, actions] of events) {
        if (!everSent.has(requestId) && actions.some((a) => WRITE_ACTIONS.has(a))) mismatched.push(`an event for request ${requestId}, which no client sent`);
      }
      assert.deepEqual(mismatched, [], `round ${round}: the audit log disagrees with the store (seed ${SEED})`);
      // Judged once: the next round's kill cannot change a past write, and the store has settled on it.
      sent.clear();

      const list = await send('GET', '/api/4.0/external_oauth_applications', undefined, await login(send));
      assert.equal(list.statusCode, 200);
      assert.equal(JSON.parse(list.body).length, result.applications, 'the restarted server lists exactly what is stored');
      console.log(
        `# crash round ${round}: killed after ${killAfterMs} ms, ${roundAcks} writes acknowledged, ` +
          `${result.applications} applications and ${result.userStates} user states intact after restart, ` +
          `${events.size} requests in the audit log`,
      );
    }
    // The operator's check of the store after all the crashes, run while the server serves.
    const doctor = await runCli(['doctor'], storeEnv(storeConfig, TEST_MASTER_KEY)).done;
    assert.equal(doctor.code, 0, `doctor after ${ROUNDS} crashes: ${doctor.stdout}${doctor.stderr}`);
    assert.match(doctor.stdout, /^ok: all \d+ stored secret\(s\) open/m);
  } finally {
    await server.stop();
  }
  console.log(`# crash safety: ${ROUNDS} rounds, ${acknowledged} writes acknowledged, ${lost} lost, ${auditedWrites} writes matched to their audit event, seed ${SEED} (replay: EOA_CRASH_SEED=${SEED})`);
  assert.deepEqual(unexpected, [], `requests failed before the kill (seed ${SEED})`);
  assert.ok(acknowledged > ROUNDS, `writes were acknowledged before the kills (${acknowledged})`);
});

/** Holds the restarted store against the ledger; settles the ledger on what is there for the next round. */
async function verify(round: number, config: Parameters<typeof readStore>[0], ledger: Ledger, apps: OwnApp[][]) {
  const contents = await readStore(config, TEST_MASTER_KEY);
  const lost: string[] = [];
  const corrupt: string[] = [...contents.failures.map((f) => `does not open: ${f}`)];
  if (contents.orphanStates > 0) corrupt.push(`${contents.orphanStates} user states without their application or user`);

  const appById = new Map(apps.flat().map((a) => [a.id, a]));
  const stored = new Map<string, Outcome>();
  for (const [key, value] of contents.values) {
    if (key.startsWith('external_oauth_applications.client_secret|')) {
      stored.set(key, value);
      continue;
    }
    // The secret a rotation replaced, kept as a fallback: it must open (contents.failures), the ledger has no say.
    if (key.startsWith('external_oauth_applications.previous_client_secret|')) continue;
    const match = /\|user (\d+) \/ application (\d+)$/.exec(key)!;
    const sKey = stateKey(match[1], match[2]);
    if (stored.has(sKey)) continue;
    const access = contents.values.get(tokenKey('access_token', match[1], match[2]));
    const refresh = contents.values.get(tokenKey('refresh_token', match[1], match[2])) ?? '';
    stored.set(sKey, `${access}|${refresh}`);
    if (!appById.has(match[2])) corrupt.push(`a user state for application ${match[2]}, which no client created`);
  }

  for (const key of new Set([...ledger.keys(), ...stored.keys()])) {
    const actual = stored.get(key) ?? ABSENT;
    const allowed = ledger.allowed(key);
    if (allowed.includes(actual)) {
      ledger.settle(key, actual);
      continue;
    }
    const describe = (o: Outcome) => (o === ABSENT ? 'absent' : 'a value');
    const what = `round ${round}: ${key.split('|').slice(0, 2).join(' ')} is ${actual === ABSENT ? 'absent' : 'another value'}, allowed ${allowed.map(describe).join(' or ')}`;
    // Something no request ever sent is corruption; an acknowledged write gone or replaced is a loss.
    if (actual !== ABSENT && !ledger.keys().includes(key)) corrupt.push(`${what} (no request wrote it)`);
    else lost.push(what);
  }
  // Deletes that did happen are now facts for the workers too.
  for (const app of apps.flat()) if (stored.get(appSecretKey(app.client_id)) === undefined) app.deleted = true;
  return { lost, corrupt, stored, applications: contents.applications, userStates: contents.userStates };
}
