import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page, type Response } from 'playwright-core';
import { auditResponse, auditSecret } from './audit.ts';
import { shownSecret } from './console-client.ts';

/**
 * A real browser for the console's tests: Debian's chromium (apt-get install chromium; .ci/run installs it)
 * driven by playwright-core, which never downloads a browser of its own. Each context gets a fresh
 * profile directory, removed on close. Every page the browser loads is recorded for the secret audit.
 */
export const CHROMIUM = '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Screenshots go to docs/screenshots with EOA_UPDATE_SCREENSHOTS=1, else to a scratch directory (taken all the same). */
export const SCREENSHOT_DIR = process.env.EOA_UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs', 'screenshots') : fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-screenshots-'));

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Messages of Content-Security-Policy violations and uncaught page errors seen so far. */
  problems: string[];
  /** Waits until every loaded page has been recorded for the audit. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Why the browser tests cannot run here (no chromium), or null when they can. `npm test` on a machine
 * without it skips them, saying why; with TEST_REQUIRE_BROWSER=1 (.ci/run) a missing browser is a failure.
 */
export function browserMissing(): string | null {
  if (fs.existsSync(CHROMIUM)) return null;
  const reason = `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`;
  if (process.env.TEST_REQUIRE_BROWSER === '1') throw new Error(`TEST_REQUIRE_BROWSER=1 but ${reason}`);
  return reason;
}

export async function launch(options: { viewport?: { width: number; height: number } } = {}): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: options.viewport ?? { width: 1100, height: 760 },
    acceptDownloads: false,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  const pending: Promise<void>[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('response', (response) => {
    if (response.request().resourceType() === 'document') pending.push(record(response));
  });
  return {
    context,
    page,
    problems,
    settle: async () => {
      await Promise.all(pending);
    },
    async close() {
      await Promise.all(pending);
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A page the browser loaded, for the secret audit; the new-API-secret page is the one allowed to carry its secret. */
async function record(response: Response): Promise<void> {
  const body = await response.text().catch(() => '');
  const url = new URL(response.url());
  const id = auditResponse(response.request().method(), url.pathname, response.status(), body);
  const secret = shownSecret(body);
  if (secret) auditSecret('console new API credentials client_secret (browser)', secret, { kind: 'response', responseId: id });
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown }>;
}

/** axe-core's serious and critical violations on the page as it is now (its source evaluated in the page). */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = (await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: AxeViolation[] }> } }).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations;
  })) as AxeViolation[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')})`);
}

export async function screenshot(page: Page, name: string, mask: string[] = []): Promise<void> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true, mask: mask.map((selector) => page.locator(selector)) });
}
