// `--scale`: the reads that must not slow down as the store grows, at 1,000 and then at 1,000,000
// applications and user states, on a store of their own seeded by one `seed … --user-states …` command per
// size (src/cli/seed-user-states.ts gives the shape: users with 10 applications each, the first
// application of a seed shared by all its users). At each size a fresh service process is measured on:
//   - the filtered list (`?client_id=`) of a random application;
//   - a fresh-token read (`…/access_token`, an admin naming a random user with a state);
//   - the first page (100) of the user-state statuses of the shared application, which holds 100 states at
//     1,000 rows and 99,900 at 1,000,000: the page is the same size, the table behind it is not.
import type { Row } from './measure.ts';
import { rssMb } from './measure.ts';
import { startBenchService, type Bench } from './phases.ts';
import { APPS, call, listRequest, login, tokenReadRequest, userStatesRequest } from './requests.ts';
import { prepareStore, seed } from './store.ts';

export interface ScaleStep {
  applications: number;
  userStates: number;
  list: Row;
  tokenRead: Row;
  userStatesList: Row;
  /**
   * The median time of one request alone (5 in a row, before the load), in ms: a figure even when a phase
   * under load answers nothing in its time.
   */
  alone: { list: number; tokenRead: number; userStatesList: number };
  /** The service's RSS after this size's phases. */
  rssMb: number | null;
}

export interface ScaleFigures {
  small: ScaleStep;
  large: ScaleStep;
}

/** Applications and user states at each size measured: the figures at the second are held against the first. */
export const SIZES: [number, number] = [1_000, 1_000_000];
const SAMPLE = 1000;

export async function scalePhases(base: Omit<Bench, 'store'>, sizes = SIZES): Promise<ScaleFigures> {
  const store = await prepareStore(base.options.db);
  const bench: Bench = { ...base, store };
  try {
    // A first start on the empty store creates the bench's admin (only done while there are no users).
    await (await startBenchService(bench)).stop();
    const steps: ScaleStep[] = [];
    for (const [i, size] of sizes.entries()) {
      const prefix = `scale${i + 1}-${bench.runId}-`;
      const applications = await store.count();
      const userStates = await store.count('oauth_application_user_states');
      console.log(`scale: seeding to ${size.toLocaleString('en')} applications and user states`);
      await seed(bench.processes, store, { applications: size - applications, userStates: size - userStates, prefix });
      steps.push(await measureAt(bench, prefix));
    }
    return { small: steps[0], large: steps[1] };
  } finally {
    await bench.measurement.stopCeilings();
    await store.dispose();
  }
}

async function measureAt(bench: Bench, prefix: string): Promise<ScaleStep> {
  const { store, measurement } = bench;
  const applications = await store.count();
  const userStates = await store.count('oauth_application_user_states');
  const at = `at ${applications.toLocaleString('en')}`;
  const pairs = await samplePairs(bench);
  const clientIds = (await store.rows<{ client_id: string }>(`select client_id from external_oauth_applications order by random() limit ${SAMPLE}`)).map((r) => r.client_id);
  // The newest seed's first application: every user that seed made holds a state for it.
  const shared = `${prefix}client-1`;
  const sharedStates = (await store.rows<{ n: number | string }>(
    'select count(*) as n from oauth_application_user_states s join external_oauth_applications a on a.id = s.oauth_application_id where a.client_id = ?', [shared],
  ))[0].n;

  const service = await startBenchService(bench);
  try {
    const token = await login(service.url, bench.admin);
    const bytes = async (method: 'GET' | 'POST', url: string, json?: unknown) => (await call(service.url, method, url, { token, json })).bytes;
    const listUrl = `${APPS}?client_id=${encodeURIComponent(clientIds[0])}`;
    const tokenUrl = `${APPS}/${encodeURIComponent(pairs[0].clientId)}/access_token`;
    const statesUrl = `${APPS}/${encodeURIComponent(shared)}/user_states?limit=100`;
    const alone = {
      list: await medianMs(() => call(service.url, 'GET', listUrl, { token })),
      tokenRead: await medianMs(() => call(service.url, 'POST', tokenUrl, { token, json: { user_id: pairs[0].userId } })),
      userStatesList: await medianMs(() => call(service.url, 'GET', statesUrl, { token })),
    };
    console.log(`scale: one request alone ${at}: filtered list ${alone.list.toFixed(1)} ms, token read ${alone.tokenRead.toFixed(1)} ms, user-state list ${alone.userStatesList.toFixed(1)} ms`);
    const list = await measurement.load(`scale: GET ?client_id= ${at}`, service, { method: 'GET', bytes: await bytes('GET', listUrl) }, { requests: listRequest(token, { ids: [], clientIds }) }, `scale-list-${applications}`);
    const tokenBytes = await bytes('POST', tokenUrl, { user_id: pairs[0].userId });
    const tokenRead = await measurement.load(`scale: POST access_token (any user) ${at}`, service, { method: 'POST', bytes: tokenBytes, requestBody: JSON.stringify({ user_id: pairs[0].userId }) }, { requests: tokenReadRequest(token, pairs) }, `scale-token-read-${userStates}`);
    const statesBytes = await bytes('GET', statesUrl);
    const userStatesList = await measurement.load(`scale: GET user_states, first 100 of ${Number(sharedStates).toLocaleString('en')} ${at}`, service, { method: 'GET', bytes: statesBytes }, { requests: userStatesRequest(token, shared) }, `scale-user-states-${userStates}`);
    return { applications, userStates, list, tokenRead, userStatesList, alone, rssMb: rssMb(service.pid) };
  } finally {
    await service.stop();
  }
}

/** The median of 5 runs of `request` one after another, in ms. */
async function medianMs(request: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = process.hrtime.bigint();
    await request();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return times.sort((a, b) => a - b)[2];
}

/** Random (user, application) pairs that have a state: what the token reads pick from. */
async function samplePairs(bench: Bench): Promise<Array<{ userId: string; clientId: string }>> {
  const states = await bench.store.rows<{ user_id: number | string; oauth_application_id: number | string }>(
    `select user_id, oauth_application_id from oauth_application_user_states order by random() limit ${SAMPLE}`,
  );
  const ids = [...new Set(states.map((s) => String(s.oauth_application_id)))];
  const clientIdOf = new Map<string, string>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const rows = await bench.store.rows<{ id: number | string; client_id: string }>(
      `select id, client_id from external_oauth_applications where id in (${chunk.map(() => '?').join(', ')})`, chunk,
    );
    for (const row of rows) clientIdOf.set(String(row.id), row.client_id);
  }
  return states.map((s) => ({ userId: String(s.user_id), clientId: clientIdOf.get(String(s.oauth_application_id))! }));
}
