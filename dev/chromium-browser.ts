#!/usr/bin/env node
/**
 * A real browser as `BROWSER` for the end-to-end suite: opens the authorization URL in Debian's
 * headless Chromium (playwright-core, no downloaded browser), signs in on the dev IdP's pages by
 * typing a user name, gives consent, and waits for latchkey's loopback page; then screenshots it.
 *
 *   BROWSER="node dist-dev/dev/chromium-browser.js" latchkey login
 *
 * Environment:
 *   LATCHKEY_E2E_ACTION      login (default) | deny (press Cancel on the login page)
 *   LATCHKEY_E2E_USER        the name to sign in with (default: grace)
 *   LATCHKEY_E2E_SCREENSHOT  where to save a PNG of the final page
 *   LATCHKEY_E2E_LOG         a file to append one JSON line per step to
 *   CHROMIUM_PATH            the browser (default /usr/bin/chromium)
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';

const action = process.env.LATCHKEY_E2E_ACTION ?? 'login';
const user = process.env.LATCHKEY_E2E_USER ?? 'grace';
const logFile = process.env.LATCHKEY_E2E_LOG;
const log = (entry: Record<string, unknown>) => logFile && appendFileSync(logFile, `${JSON.stringify(entry)}\n`);

async function main(): Promise<void> {
  const url = new URL(process.argv[process.argv.length - 1]!);
  let redirect = '';
  const profileDir = mkdtempSync(join(tmpdir(), 'latchkey-chromium-'));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      '--disable-quic',
    ],
  });
  try {
    // The dev IdP's pages import a web font from the internet: only loopback is reachable here.
    await context.route('**/*', (route) => {
      const host = new URL(route.request().url()).hostname;
      return host === '127.0.0.1' || host === 'localhost' || host === '[::1]' ? route.continue() : route.abort();
    });
    const page = context.pages()[0] ?? (await context.newPage());
    // latchkey's local start URL redirects to the IdP (and sets the cookie the callback needs).
    // The redirect URI is in the authorization request, one hop of that redirect chain.
    const response = await page.goto(url.href, { waitUntil: 'domcontentloaded' });
    for (let request = response?.request() ?? null; request && !redirect; request = request.redirectedFrom()) {
      redirect = new URL(request.url()).searchParams.get('redirect_uri') ?? '';
    }
    if (!redirect) throw new Error(`no redirect_uri on the way from ${url.href} to ${page.url()}`);
    log({ step: 'login-page', title: await page.title() });
    if (action === 'deny') {
      await page.click('text=[ Cancel ]');
    } else {
      await page.fill('input[name=login]', user);
      await page.fill('input[name=password]', 'any password');
      await Promise.all([page.waitForLoadState('domcontentloaded'), page.click('button[type=submit]')]);
      log({ step: 'consent-page', title: await page.title() });
      if (!page.url().startsWith(redirect)) await page.click('button[type=submit]');
    }
    await page.waitForURL((current) => current.href.startsWith(redirect), { waitUntil: 'domcontentloaded', timeout: 30_000 });
    await page.waitForSelector('h1', { timeout: 30_000 });
    const title = await page.title();
    const text = await page.innerText('body');
    log({ step: 'result', url: page.url().split('?')[0], title, text });
    const shot = process.env.LATCHKEY_E2E_SCREENSHOT;
    if (shot) {
      mkdirSync(dirname(shot), { recursive: true });
      await page.setViewportSize({ width: 720, height: 420 });
      await page.screenshot({ path: shot });
      log({ step: 'screenshot', path: shot });
    }
  } finally {
    await context.close();
    rmSync(profileDir, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  log({ step: 'error', message: error.message });
  process.exitCode = 1;
});
