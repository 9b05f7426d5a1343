import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { useChromium } from '../support/index.js';
import { startVizApp, type VizApp } from './helpers.js';

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);
const chromium = useChromium('the visualizer page');
const hasChromium = chromium.available;

let app: VizApp | undefined;
let page: Page | undefined;

afterEach(async () => {
  await page?.close();
  page = undefined;
});

const active = (p: Page, stateId: string) =>
  p.locator(`svg.chart [data-state="${stateId}"][data-active="true"]`);

describe.skipIf(!hasChromium)('the chart (Chromium)', () => {
  it('draws a deep-linked session with its active states marked in the first frame', async () => {
    app = await startVizApp();
    const client = app.client();
    const id = await client.id();
    await client.send({ type: 'cart.add', sku: 'A1' });
    page = await chromium.browser.newPage({ viewport: { width: 1280, height: 720 } });
    // Installed before the page's own script: records the DOM at the first mutation that
    // brings state nodes in, before anything else can run.
    await page.addInitScript(() => {
      const w = window as unknown as { __firstChart?: { nodes: number; active: string[] } };
      new MutationObserver((_records, observer) => {
        const nodes = document.querySelectorAll('[data-state]');
        if (nodes.length === 0) return;
        observer.disconnect();
        w.__firstChart = {
          nodes: nodes.length,
          active: Array.from(
            document.querySelectorAll<SVGElement>('[data-state][data-active="true"]'),
            (n) => n.dataset.state ?? '',
          ),
        };
      }).observe(document, { childList: true, subtree: true });
    });
    // The feed's snapshots are held back until a chart is on the page (or 2 s have passed): a
    // page that draws the chart from the machine definition alone shows it with nothing active.
    let release = () => {};
    await page.routeWebSocket(/\/_sessions\/feed$/, (ws) => {
      const server = ws.connectToServer();
      let held: (string | Buffer)[] | null = [];
      server.onMessage((m) => {
        if (held && JSON.parse(String(m)).type === 'snapshot') held.push(m);
        else ws.send(m);
      });
      release = () => {
        for (const m of held ?? []) ws.send(m);
        held = null;
      };
    });
    await page.goto(`${app.url}/_sessions?session=${encodeURIComponent(id)}`);
    await page
      .locator('svg.chart [data-state]')
      .first()
      .waitFor({ state: 'attached', timeout: 2_000 })
      .catch(() => {});
    release();
    await active(page, 'cart.cart.shopping.active').waitFor();
    const first = await page.evaluate(
      () =>
        (window as unknown as { __firstChart?: { nodes: number; active: string[] } }).__firstChart,
    );
    expect(first?.nodes).toBeGreaterThan(8);
    expect(first?.active).toEqual(
      expect.arrayContaining(['cart.auth.anonymous', 'cart.cart.shopping.active']),
    );
  });

  it('fits the whole chart in the viewport at 1280x720', async () => {
    app = await startVizApp();
    const id = await app.client().id();
    page = await chromium.browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.goto(`${app.url}/_sessions?session=${encodeURIComponent(id)}`);
    await active(page, 'cart.auth.anonymous').waitFor();
    await page.getByRole('button', { name: '100%' }).click();
    await page.getByRole('button', { name: 'fit' }).click();
    const outside = await page.locator('[data-state]').evaluateAll((nodes) =>
      nodes
        .map((n) => ({ id: (n as SVGElement).dataset.state, box: n.getBoundingClientRect() }))
        .filter(
          ({ box }) =>
            box.left < 0 ||
            box.top < 0 ||
            box.right > window.innerWidth ||
            box.bottom > window.innerHeight,
        )
        .map(
          ({ id, box }) =>
            `${id} ${Math.round(box.left)},${Math.round(box.top)}–${Math.round(box.right)},${Math.round(box.bottom)}`,
        ),
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('visualizer-fit-1280x720.png', ARTIFACTS).pathname });
    expect(outside).toEqual([]);
    expect(await page.locator('svg.chart [data-state]').count()).toBeGreaterThan(8);
  });
});

describe.skipIf(!hasChromium)('a refused feed (Chromium)', () => {
  it('shows the server’s reason on the page', async () => {
    // The page is allowed, its feed is not: the page must say why rather than reconnect silently.
    app = await startVizApp({ authorize: (ctx) => ctx.path !== '/_sessions/feed' });
    page = await chromium.browser.newPage({ viewport: { width: 1280, height: 720 } });
    let attempts = 0;
    page.on('websocket', () => attempts++);
    await page.goto(`${app.url}/_sessions`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('authorize option refused');
    // A refusal that only a configuration change can lift is not retried (reconnects start 1 s
    // apart): the page says to reload instead.
    await page.waitForTimeout(2_500);
    expect(attempts).toBe(1);
    expect(await alert.textContent()).toContain('Reload this page');
  });
});
