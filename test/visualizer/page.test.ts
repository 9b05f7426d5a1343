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
const pageErrors: Error[] = [];

afterEach(async () => {
  await page?.close();
  page = undefined;
  expect(pageErrors.splice(0), 'errors thrown in the page').toEqual([]);
});

async function openPage(path = '/_sessions'): Promise<Page> {
  page = await chromium.browser.newPage({ viewport: { width: 1680, height: 1000 } });
  const outside: string[] = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(app!.url) && !req.url().startsWith(app!.url.replace('http', 'ws'))) {
      outside.push(req.url());
    }
  });
  page.on('pageerror', (err) => pageErrors.push(err));
  await page.goto(app!.url + path);
  (page as Page & { outside?: string[] }).outside = outside;
  return page;
}

const active = (p: Page, stateId: string) =>
  p.locator(`svg.chart [data-state="${stateId}"][data-active="true"]`);

describe.skipIf(!hasChromium)('visualizer page (Chromium)', () => {
  it('lists the sessions created over HTTP, with the total count', async () => {
    app = await startVizApp();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await app.client().id());
    const p = await openPage();
    await expect.poll(() => p.locator('tr[data-session]').count()).toBe(3);
    await expect.poll(() => p.getByTestId('total').textContent()).toBe('3 sessions');
    const listed = await p
      .locator('tr[data-session]')
      .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.session));
    expect(listed).toEqual(ids);
    // A session started now shows up live.
    await app.client().id();
    await expect.poll(() => p.getByTestId('total').textContent()).toBe('4 sessions');
    expect((p as Page & { outside?: string[] }).outside).toEqual([]);
  });

  it('draws the selected session’s statechart and moves the highlight within a second', async () => {
    app = await startVizApp();
    const client = app.client();
    const id = await client.id();
    await client.send({ type: 'cart.add', sku: 'A1' });
    await client.send({ type: 'cart.add', sku: 'C3', qty: 2 });
    const p = await openPage();
    await p.locator(`tr[data-session="${id}"]`).click();
    await active(p, 'cart.auth.anonymous').waitFor();
    await active(p, 'cart.cart.shopping.active').waitFor();
    expect(await p.locator('svg.chart [data-state]').count()).toBeGreaterThan(8);
    expect(
      await p.locator('svg.chart [data-state="cart.auth.loggedIn"]').getAttribute('data-active'),
    ).toBeNull();
    expect(p.url()).toContain(`session=${id}`);

    // How fast the chart follows is bench/visualizer.mjs's subject (event to snapshot on the
    // feed); here it must follow at all.
    await client.send({ type: 'auth.login', user: 'ada' });
    await active(p, 'cart.auth.loggedIn').waitFor();
    expect(await active(p, 'cart.auth.anonymous').count()).toBe(0);

    // The event log and the context follow too.
    await p.getByTestId('events').getByText('auth.login').waitFor();
    await p.locator('.tree').getByText('"ada"').first().waitFor();

    mkdirSync(ARTIFACTS, { recursive: true });
    await p.screenshot({ path: new URL('visualizer-page.png', ARTIFACTS).pathname });
    // The chart alone at 100 %, on a page of its own (in the app it scrolls inside its panel).
    await p.getByRole('button', { name: '100%' }).click();
    const svg = await p.locator('svg.chart').evaluate((el) => el.outerHTML);
    const solo = await chromium.browser.newPage({ viewport: { width: 2400, height: 1600 } });
    await solo.setContent(
      `<link rel="stylesheet" href="${app.url}/_sessions/app.css"><body style="background:#fff">${svg}</body>`,
    );
    await solo.locator('svg.chart').screenshot({
      path: new URL('visualizer-chart.png', ARTIFACTS).pathname,
    });
    await solo.close();
    console.log('screenshots in test-artifacts/');
  });

  it('opens a session from a ?session= deep link and masks secrets in the log', async () => {
    app = await startVizApp();
    const client = app.client();
    const id = await client.id();
    const p = await openPage(`/_sessions?session=${encodeURIComponent(id)}`);
    await active(p, 'cart.cart.shopping.empty').waitFor();
    await client.send({ type: 'cart.add', sku: 'A1' });
    await client.send({ type: 'auth.login', user: 'ada' });
    await client.send({ type: 'checkout.start' });
    await client.send({ type: 'checkout.pay', card: '4242424242424242' });
    await p.getByTestId('events').getByText('checkout.pay').first().waitFor();
    await active(p, 'cart.cart.ordered').waitFor();
    const html = await p.content();
    expect(html).not.toContain('4242424242424242');
    expect(html).toContain('••••••');
  });

  it('opens a session by the ID pasted into the list head', async () => {
    app = await startVizApp();
    await app.client().id();
    const id = await app.client().id();
    const p = await openPage();
    await p.locator('tr[data-session]').first().waitFor();
    await p.getByLabel('open a session by ID').fill(id);
    await p.getByLabel('open a session by ID').press('Enter');
    await active(p, 'cart.auth.anonymous').waitFor();
    expect(p.url()).toContain(`session=${id}`);
    expect(await p.locator(`tr[data-session="${id}"]`).getAttribute('aria-selected')).toBe('true');
  });

  it('sends an event from the form when allowSend is set', async () => {
    app = await startVizApp({ allowSend: true });
    const id = await app.client().id();
    const p = await openPage(`/_sessions?session=${encodeURIComponent(id)}`);
    await active(p, 'cart.auth.anonymous').waitFor();
    await p.locator('form.send input').fill('{"type":"auth.login","user":"grace"}');
    await p.locator('form.send button[type=submit]').click();
    await active(p, 'cart.auth.loggedIn').waitFor({ timeout: 1_000 });
  });

  it('has no send form when allowSend is off', async () => {
    app = await startVizApp({ allowSend: false });
    const id = await app.client().id();
    const p = await openPage(`/_sessions?session=${encodeURIComponent(id)}`);
    await active(p, 'cart.auth.anonymous').waitFor();
    expect(await p.locator('form.send').count()).toBe(0);
  });
});
