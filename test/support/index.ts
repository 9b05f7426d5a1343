/**
 * The shared test kit: real servers on 127.0.0.1 port 0 with guaranteed teardown, a cookie jar,
 * raw WebSocket clients that record every frame, and the Chromium launcher.
 *
 * It is meant to replace, as the other suites migrate to it:
 * - servers: `startApp`/`listen`/`closeServer` (test/koa/helpers.ts), `startVizApp`'s server
 *   (test/visualizer/helpers.ts), `startLiveTestServer`/`closeAll` (test/live/liveTestServer.ts)
 *   and the inline `server.listen(0, '127.0.0.1')` set-ups of test/examples/shop.test.ts,
 *   test/testing/{shop,live}.test.ts, test/visualizer/{shop,readme}.test.ts and
 *   test/live/shop.browser.test.ts;
 * - cookie jars: `Client` of test/koa/helpers.ts and test/visualizer/helpers.ts and the ad-hoc
 *   `getSetCookie()` parsing of test/examples/shop.test.ts, test/testing/{shop,live}.test.ts and
 *   test/live/liveTestServer.ts (`login`);
 * - Chromium: `chromiumAvailable`/`launchChromium` of test/visualizer/helpers.ts and the inline
 *   launchers of test/live/browser.test.ts and test/live/shop.browser.test.ts.
 *
 * `bundleChild.ts` (bundles an entry for a real child process) lives here too; import it directly.
 *
 * @example
 * ```ts
 * import { startTestServer } from '../support/index.js';
 * const server = await startTestServer({ live: { events: ['add_one'] } }); // closed after the test
 * const jar = new CookieJar();
 * await jar.fetch(`${server.url}/login`);
 * const ws = await connectWs(server.wsUrl, { origin: server.origin, cookie: jar.header() });
 * ```
 */
export { chromiumAvailable, CHROMIUM, CHROMIUM_ARGS, launchChromium } from './chromium.js';
export { CookieJar } from './CookieJar.js';
export {
  connectWs,
  type FrameRecorder,
  recordFrames,
  refusalClose,
  upgradeStatus,
} from './ws.js';
export { startShop, type TestShop } from './startShop.js';
export {
  closeTestServers,
  listenOnLoopback,
  type ServedApp,
  serveApp,
  startTestServer,
  TEST_KEYS,
  type TestServer,
  type TestServerOptions,
} from './startTestServer.js';
