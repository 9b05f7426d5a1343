import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { useChromium } from '../support/index.js';
import { type LiveTestServer, startLiveTestServer } from './liveTestServer.js';

const chromium = useChromium('the live-view browser test');
const missing = !chromium.available;

const html = `<!doctype html><meta charset="utf-8"><title>live</title>
<p>Count: <output id="count">?</output></p><button id="add">add</button>
<p id="notice" role="status" hidden></p><script type="module" src="/page.js"></script>`;

describe.skipIf(missing)('live views in Chromium', () => {
  let t: LiveTestServer;

  beforeAll(async () => {
    // The client is bundled for the browser exactly as an app would: esbuild, platform browser.
    const out = await build({
      entryPoints: [fileURLToPath(new URL('./page/livePage.ts', import.meta.url))],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      alias: {
        'session-process/client': fileURLToPath(
          new URL('../../src/client/index.ts', import.meta.url),
        ),
      },
    });
    const js = out.outputFiles[0]!.text;
    t = await startLiveTestServer(
      {},
      {},
      {
        '/page': ['text/html', html],
        '/page.js': ['text/javascript', js],
      },
      { scope: 'file' },
    );
  });

  it('shows an add in one tab in the other, and the end notice in both', async () => {
    const context = await chromium.browser.newContext();
    const errors: string[] = [];
    const one = await context.newPage();
    one.on('pageerror', (e) => errors.push(e.message));
    const login = await one.goto(`${t.baseUrl}/login`);
    const sessionId = await login!.text();
    await one.goto(`${t.baseUrl}/page`);
    const two = await context.newPage();
    two.on('pageerror', (e) => errors.push(e.message));
    await two.goto(`${t.baseUrl}/page`);
    await expect.poll(() => two.textContent('#count')).toBe('0');
    await expect.poll(() => one.textContent('#count')).toBe('0');
    expect(t.live.viewsOf(sessionId)).toBe(2);

    await one.click('#add');
    await one.click('#add');
    await expect.poll(() => two.textContent('#count')).toBe('2');

    await t.sessions.terminate(sessionId);
    for (const page of [one, two]) {
      await expect.poll(() => page.textContent('#notice')).toBe('Your session ended (terminated).');
      expect(await page.isVisible('#notice')).toBe(true);
    }
    expect(errors).toEqual([]);
    await context.close();
  });

  // A browser cannot read the status of a refused upgrade (it sees 1006 whatever the reason): the
  // bridge accepts the handshake of a client speaking the protocol and closes with 4401 / 4403.
  it('tells a page without a session UNAUTHORIZED and stops reconnecting', async () => {
    const context = await chromium.browser.newContext();
    const page = await context.newPage();
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.goto(`${t.baseUrl}/page`);
    await expect.poll(() => page.textContent('#notice')).toBe('Live view refused: UNAUTHORIZED');
    expect(await page.evaluate(() => (window as any).live.state)).toBe('closed');
    await new Promise((r) => setTimeout(r, 600));
    expect(sockets).toHaveLength(1);
    await context.close();
  });

  it('tells a page on an origin the bridge does not allow FORBIDDEN', async () => {
    const context = await chromium.browser.newContext();
    const page = await context.newPage();
    // Same server, other name: the Origin is http://localhost:<port>, not the allowed 127.0.0.1.
    await page.goto(`${t.baseUrl.replace('127.0.0.1', 'localhost')}/page`);
    await expect.poll(() => page.textContent('#notice')).toBe('Live view refused: FORBIDDEN');
    await context.close();
  });
});
