import type { SupervisorOptions } from 'session-process';
import type { LiveBridgeOptions } from 'session-process/live';
import type { WebSocket } from 'ws';
import { connectWs, startTestServer, type TestServer } from '../support/index.js';

/** The kit's server with the live tests' names: `url` is the bridge's, `baseUrl` the app's. */
export interface LiveTestServer extends Omit<TestServer, 'url' | 'live'> {
  live: NonNullable<TestServer['live']>;
  /** `ws://127.0.0.1:<port>/live` */
  url: string;
  /** `http://127.0.0.1:<port>` (also the allowed Origin) */
  baseUrl: string;
  /** A ws client of the bridge with the given headers (the kit's `connectWs`). */
  connect(
    headers: Record<string, string>,
    options?: ConstructorParameters<typeof WebSocket>[2],
  ): Promise<WebSocket>;
}

/**
 * The kit's {@link startTestServer} set up as the live tests use it: the counter machine, the
 * bridge allowing `add_one` and `get_value` with the view `{ count }`, and `files` served as
 * static responses by path (`[content type, body]`). Closed by the kit after the test (or the
 * file, with `scope: 'file'`).
 */
export async function startLiveTestServer(
  bridge: Partial<LiveBridgeOptions> = {},
  supervisor: SupervisorOptions = {},
  files: Record<string, [string, string]> = {},
  { scope = 'test' }: { scope?: 'test' | 'file' } = {},
): Promise<LiveTestServer> {
  const t = await startTestServer({
    supervisor,
    scope,
    live: {
      events: ['add_one', 'get_value'],
      view: (s) => ({ count: s.context.count }),
      ...bridge,
    },
    routes: (app) =>
      app.use((ctx) => {
        const file = files[ctx.path];
        if (!file) return void (ctx.status = 404);
        ctx.type = file[0];
        ctx.body = file[1];
      }),
  });
  return Object.create(t, {
    live: { get: () => t.live },
    url: { value: t.wsUrl },
    baseUrl: { value: t.url },
    connect: {
      value: (headers: Record<string, string>, options = {}) =>
        connectWs(t.wsUrl, headers, options),
    },
  }) as LiveTestServer;
}
