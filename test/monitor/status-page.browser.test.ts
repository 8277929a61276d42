/**
 * The status page in a real browser: Debian's Chromium, headless, driven by playwright-core,
 * against a real monitor whose TLS server swaps its intermediate (status-page-rig.ts). The
 * endpoints table is checked with JavaScript off (the page has none; it must not need any), the
 * timeline entry of the swap and the expiry chart with it on, and a screenshot is written to
 * tmp/test-output/ (gitignored). .ci/run installs chromium, so CI always runs this; a machine
 * without /usr/bin/chromium skips it and says why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { opensslPin } from '../helpers/fixtures.js';
import {
  PAGE_PASSWORD,
  PAGE_USER,
  PIN_SET_EXPIRATION,
  Rig,
  startRig,
  sweepWithIntermediateSwap,
} from './status-page-rig.js';
import { startVantageRig } from './vantage-status-rig.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM)
  console.warn(`status page browser test skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);
export const SCREENSHOT_DIR = join(import.meta.dirname, '..', '..', 'tmp', 'test-output');

let rig: Rig;
let browser: Browser;

describe.skipIf(!HAVE_CHROMIUM)('status page in headless Chromium', () => {
  beforeAll(async () => {
    rig = await startRig();
    await sweepWithIntermediateSwap(rig);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Without these Chromium's own connections are refused on the CI machine (no sandbox, no GPU,
      // no network beyond 127.0.0.1): nothing may start a background fetch or a QUIC attempt.
      // The profile is fresh: launch() gives Chromium a new temporary --user-data-dir (and removes it).
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await rig?.close();
  });

  it('without credentials: 401 with a basic-auth challenge, which headless Chromium cannot answer', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await expect(page.goto(`${rig.base}/`)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
      const res = await page.request.get(`${rig.base}/`);
      expect(res.status()).toBe(401);
      expect(res.headers()['www-authenticate']).toMatch(/^Basic /);
    } finally {
      await context.close();
    }
  });

  it('with JavaScript off: the endpoints table shows status, pins and days to expiry per position', async () => {
    const context = await browser.newContext({
      javaScriptEnabled: false,
      httpCredentials: { username: PAGE_USER, password: PAGE_PASSWORD },
    });
    try {
      const page = await context.newPage();
      const res = await page.goto(`${rig.base}/`);
      expect(res!.status()).toBe(200);
      const api = page.locator(`table.endpoints tr[data-endpoint="${rig.apiId}"]`);
      const rsa = page.locator(`table.endpoints tr[data-endpoint="${rig.rsaId}"]`);
      const cells = async (row: typeof api) => (await row.locator('td').allInnerTexts()).map((t) => t.trim());
      const apiCells = await cells(api);
      // The status cell is upper-cased by CSS: innerText is what a person sees.
      expect(apiCells.slice(0, 3)).toEqual([rig.apiId, 'CRITICAL', 'FAIL']);
      expect(apiCells[8]).toContain('no shipped pin matches the served chain');
      const rsaCells = await cells(rsa);
      expect(rsaCells.slice(0, 3)).toEqual([rig.rsaId, 'OK', 'match']);
      // Days to expiry per position, against the notAfter the API reports (itself checked against openssl).
      const doc = (await (
        await page.request.get(`${rig.base}/api/status`)
      ).json()) as import('../../monitor/status-page/model.js').StatusDocument;
      const days = doc.endpoints[0]!.chain.map((c) => `${c.daysToExpiry} d`);
      expect(apiCells.slice(3, 6)).toEqual(days);
    } finally {
      await context.close();
    }
  });

  it('the timeline shows the intermediate swap; the expiry chart draws every certificate, the pin-set expiration and the overlap window; screenshot', async () => {
    const context = await browser.newContext({
      httpCredentials: { username: PAGE_USER, password: PAGE_PASSWORD },
      viewport: { width: 1280, height: 900 },
    });
    try {
      const page = await context.newPage();
      await page.goto(`${rig.base}/`);
      await expect(page.title()).resolves.toContain('pinctl monitor');

      const section = page.locator(`section.endpoint[id^="ep-api_pinctl_test_"]`);
      const swap = section.locator('ol.timeline li[data-type="opened"][data-kind="chain-drift"]');
      await expect(swap.count()).resolves.toBe(1);
      expect(await swap.innerText()).toMatch(/opened chain-drift: .*intermediate-changed/);
      const alerted = section.locator('ol.timeline li[data-type="alerted"]');
      await expect(alerted.count()).resolves.toBe(2);

      const chart = page.locator('svg.expiry-chart');
      await expect(chart.isVisible()).resolves.toBe(true);
      const bars = chart.locator('g[data-kind="cert"]');
      await expect(bars.count()).resolves.toBe(6); // two chains of three certificates
      const int2 = chart.locator(`g[data-kind="cert"][data-spki="${opensslPin('intermediate2.pem')}"]`);
      await expect(int2.getAttribute('data-not-after')).resolves.toBe(
        doc_notAfter(
          await page.request.get(`${rig.base}/api/status`).then((r) => r.json()),
          opensslPin('intermediate2.pem'),
        ),
      );
      // Drawn, with a real size: the bar's rectangle as laid out by the browser.
      const box = await int2.locator('rect').boundingBox();
      expect(box!.width).toBeGreaterThan(50);
      const pinned = chart.locator('g[data-kind="cert"][data-pinned="true"]');
      await expect(pinned.getAttribute('data-spki')).resolves.toBe(opensslPin('intermediate-rsa.pem'));
      await expect(
        chart.locator(`g[data-kind="pin-set-expiration"][data-expiration="${PIN_SET_EXPIRATION}"]`).count(),
      ).resolves.toBe(1);
      const overlap = chart.locator('g[data-kind="overlap"][data-domain="api.pinctl.test"] rect');
      expect((await overlap.boundingBox())!.width).toBeGreaterThanOrEqual(4);
      await expect(page.locator('#bundle [data-field="version"]').innerText()).resolves.toMatch(/^\d+$/);

      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      const file = join(SCREENSHOT_DIR, 'status-page.png');
      await page.screenshot({ path: file, fullPage: true });
      expect(statSync(file).size).toBeGreaterThan(10_000);
    } finally {
      await context.close();
    }
  });

  it('two vantages on one state: one row each, the named vantage labelled (JavaScript off); screenshot', async () => {
    const v = await startVantageRig();
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 700 } });
    try {
      const page = await context.newPage();
      expect((await page.goto(`${v.base}/`))!.status()).toBe(200);
      const rows = page.locator(`table.endpoints tr[data-endpoint="${v.id}"]`);
      await expect(rows.count()).resolves.toBe(2);
      // The default vantage's row as it always was: no label. The eu row says where it was seen from.
      await expect(rows.nth(0).locator('.vantage').count()).resolves.toBe(0);
      await expect(rows.nth(0).locator('td').first().innerText()).resolves.toBe(v.id);
      const label = page.locator(`table.endpoints tr[data-endpoint="${v.id}"][data-vantage="eu"] .vantage`);
      await expect(label.isVisible()).resolves.toBe(true);
      await expect(label.innerText()).resolves.toBe('eu');
      expect((await label.boundingBox())!.width).toBeGreaterThan(8); // laid out, not an empty box
      const euCells = (await rows.nth(1).locator('td').allInnerTexts()).map((t) => t.trim());
      expect(euCells.slice(0, 3)).toEqual([`${v.id} eu`, 'CRITICAL', 'FAIL']);
      const chainTitle = page.locator('section.endpoint h3.vantage-chain[data-vantage="eu"]');
      await expect(chainTitle.innerText()).resolves.toBe('Seen from eu');
      const euChain = page.locator('section.endpoint table.chain[data-vantage="eu"]');
      await expect(euChain.locator('code').first().innerText()).resolves.toBe(opensslPin('leaf-new-key.pem'));
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOT_DIR, 'status-page-vantages.png'), fullPage: true });
    } finally {
      await context.close();
      await v.close();
    }
  }, 60_000);
});

function doc_notAfter(
  doc: import('../../monitor/status-page/model.js').StatusDocument,
  spki: string,
): string | undefined {
  return doc.endpoints.flatMap((e) => e.chain).find((c) => c.spkiSha256 === spki)?.notAfter;
}
