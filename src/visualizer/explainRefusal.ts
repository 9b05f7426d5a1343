import type { Context } from 'koa';
import { hostnameOf } from '../koa/index.js';
import type { RefusalReason } from './VisualizerError.js';

const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip'] as const;

/** @internal What {@link explainRefusal} may use to say why. */
export interface RefusalFacts {
  reason: RefusalReason;
  /** The request's host as the visualizer judged it (`ctx.host`, or the raw `Host` header). */
  host?: string | undefined;
  origin?: string | undefined;
  ctx?: Context | undefined;
  remoteAddress?: string | undefined;
  /** Whether `authorize` is the default (`isLoopback`). */
  defaultAuthorize: boolean;
  /** Whether `authorize` threw (rather than returning false). */
  authorizeThrew?: boolean;
  feedPath: string;
  maxConnections: number;
}

/**
 * @internal
 * The sentence or two an operator needs after a refusal: what was refused, why, and which option
 * (or `app.proxy`) to set. It is the body of the 403 page and the message `onError` gets; it
 * names options, never a secret, so it is safe to show to whoever asked.
 */
export function explainRefusal(f: RefusalFacts): string {
  switch (f.reason) {
    case 'host': {
      const name = hostnameOf(f.host ?? '');
      const viaProxy =
        f.ctx?.app.proxy && f.ctx.get('x-forwarded-host')
          ? ' (read from X-Forwarded-Host, since app.proxy is true)'
          : '';
      return (
        `The visualizer does not answer to the host name "${name}"${viaProxy}. It answers to ` +
        'loopback names (localhost, *.localhost) and IP addresses only, so that another site ' +
        'cannot reach it by pointing its own name at this server (DNS rebinding). If ' +
        `"${name}" is this server's name, allow it: visualizer(sessions, { allowedHosts: ['${name}'] }).`
      );
    }
    case 'origin': {
      let hint = ` To allow it: visualizer(sessions, { origins: ['${f.origin}'] }).`;
      const ctx = f.ctx;
      if (ctx && !ctx.app.proxy && proxyHeader(ctx)) {
        hint +=
          ' This request came through a proxy: set app.proxy = true so that the host the ' +
          'browser used (X-Forwarded-Host) is the one compared.';
      }
      return `A page from ${f.origin} may not open the visualizer's feed: only pages served from ${f.host ?? 'this host'} may.${hint}`;
    }
    case 'authorize': {
      if (f.authorizeThrew) {
        return "The visualizer's authorize option threw, so the request was refused (the error went to onError).";
      }
      if (!f.defaultAuthorize) return "The visualizer's authorize option refused this request.";
      const header = f.ctx ? proxyHeader(f.ctx) : undefined;
      const example =
        'visualizer(sessions, { authorize: (ctx) => ctx.state.user?.role === "admin" })';
      if (header) {
        return (
          'The visualizer is served only to requests made on this machine (the default ' +
          `authorize, isLoopback), and this one came through a proxy (it has a ${header} header). ` +
          'Behind a proxy, pass an authorize that checks your operators, for example ' +
          `${example}${f.ctx?.app.proxy ? '' : '; set app.proxy = true so that ctx.ip is the client address'}.`
        );
      }
      return (
        'The visualizer is served only to requests made on this machine (the default ' +
        `authorize, isLoopback); this one came from ${f.remoteAddress ?? 'another address'}. ` +
        `To let others in, pass an authorize that checks your operators, for example ${example}.`
      );
    }
    case 'path':
      return `There is no visualizer feed here: the feed is at ${f.feedPath}.`;
    case 'limit':
      return `${f.maxConnections} visualizer feeds are open already (maxConnections): close a page, or raise maxConnections.`;
    case 'no-app':
      return (
        'The visualizer feed needs the Koa app to build the context authorize sees: pass it, ' +
        'visualizer(sessions, { app }), or load the page once before opening the feed.'
      );
  }
}

function proxyHeader(ctx: Context): string | undefined {
  const h = PROXY_HEADERS.find((name) => ctx.req.headers[name] !== undefined);
  return h === undefined
    ? undefined
    : h.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}
