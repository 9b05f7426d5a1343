/**
 * The shared test kit: every suite's servers, cookie jars, WebSocket clients and browser come
 * from here, so a fix to one (teardown, cookie expiry, CI rules for Chromium) reaches them all.
 *
 * - servers: {@link startTestServer} (Koa 3 + koa-session 7 + a supervisor, and on request
 *   `sessionProcess`, the live bridge, a visualizer through `beforeSession`/`attach`, a restart
 *   on the same port), {@link startShop} (the demo shop, with its live bridge on request),
 *   {@link serveApp} (any handler) and {@link listenOnLoopback} (a server the app under test
 *   owns). Each is closed after the test (or the file, `scope: 'file'`); the suites' own helpers
 *   (test/koa/helpers.ts `startApp`, test/live/liveTestServer.ts, test/visualizer/helpers.ts)
 *   are presets of `startTestServer` with their routes and defaults;
 * - cookies: {@link CookieJar}, one browser (with `request`/`json` for path-and-JSON APIs);
 * - sockets: {@link connectWs}, {@link recordFrames} (raw frames and parsed messages),
 *   {@link upgradeStatus}, {@link refusalClose};
 * - Chromium: {@link chromiumAvailable} (skip with a printed reason, fail under `CI=true`) and
 *   {@link launchChromium}.
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
export {
  CHROMIUM,
  CHROMIUM_ARGS,
  chromiumAvailable,
  type FileChromium,
  launchChromium,
  useChromium,
} from './chromium.js';
export { CookieJar } from './CookieJar.js';
export { type HttpAnswer, httpRequest } from './httpRequest.js';
export { withOverrides } from './withOverrides.js';
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
