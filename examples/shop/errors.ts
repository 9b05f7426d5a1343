import type { Context, Middleware } from 'koa';
import { isSessionError } from 'session-process';
import { html } from './html.js';
import { layout } from './views.js';

/** `code` of an error that carries none, by status. */
const CODES: Record<number, string> = {
  400: 'bad_request',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'body_too_large',
  415: 'unsupported_media_type',
  501: 'not_implemented',
};

/**
 * The shop's error handler, mounted first: answers JSON `{ error: { code, message } }` under
 * `/api/` and an HTML page elsewhere, for every failure: a thrown error with its `status` (a
 * `SessionError` carries its own: 409 `EVENT_NOT_ACCEPTED` or `SESSION_ROTATED`, 503 and 429 from
 * the session middleware) and its `headers` (`Retry-After`), and an unanswered 404 or a 405 from
 * the router (whose `Allow` header stays). Messages of errors that are not `expose`d are replaced
 * by the status text; 5xx errors are also emitted on the app's `error` event for logging.
 *
 * @example
 * ```ts
 * app.use(errorHandler());
 * ```
 */
export function errorHandler(): Middleware {
  return async (ctx: Context, next) => {
    try {
      await next();
      if (ctx.status >= 400 && ctx.body == null) ctx.throw(ctx.status);
    } catch (caught) {
      const err = caught as {
        status?: unknown;
        expose?: boolean;
        message?: string;
        code?: unknown;
        headers?: Record<string, string>;
      };
      const status =
        typeof err.status === 'number' && err.status >= 400 && err.status < 600 ? err.status : 500;
      if (status >= 500 && !isSessionError(caught, 'SESSION_LIMIT_REACHED'))
        ctx.app.emit('error', caught, ctx);
      const message = err.expose && err.message ? err.message : statusText(status);
      const code = typeof err.code === 'string' ? err.code : (CODES[status] ?? `http_${status}`);
      ctx.status = status;
      if (err.headers) ctx.set(err.headers);
      if (ctx.path.startsWith('/api/') || ctx.path === '/api') {
        ctx.body = { error: { code, message } };
      } else {
        ctx.type = 'html';
        // A page asked for with an ID a login in another tab just replaced: reload, and the
        // browser sends the new cookie.
        const reload =
          code === 'SESSION_ROTATED' && ctx.method === 'GET'
            ? html`<script>setTimeout(() => location.reload(), 300)</script>`
            : '';
        ctx.body = layout(
          statusText(status),
          html`<h1>${statusText(status)}</h1><p class="error">${message}</p><p><a href="/">Back to the shop</a></p>${reload}`,
        ).value;
      }
    }
  };
}

/**
 * Refuses request bodies the shop does not read (415) before the body parser, which would
 * otherwise leave them unread and let validation answer a confusing 400.
 *
 * @example
 * ```ts
 * app.use(requireBodyType());
 * app.use(bodyParser({ enableTypes: ['json', 'form'] }));
 * ```
 */
export function requireBodyType(): Middleware {
  return async (ctx, next) => {
    if (ctx.request.length && !ctx.request.is('json', 'urlencoded'))
      ctx.throw(415, 'Send application/json or application/x-www-form-urlencoded');
    await next();
  };
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    400: 'Bad request',
    401: 'Login required',
    402: 'Payment declined',
    403: 'Forbidden',
    404: 'Not found',
    405: 'Method not allowed',
    409: 'Not possible right now',
    413: 'Request too large',
    415: 'Unsupported request type',
    422: 'Invalid request',
    429: 'Too many new sessions',
    503: 'Shop is full',
    504: 'The cart did not answer in time',
  };
  return texts[status] ?? (status >= 500 ? 'Something went wrong' : 'Request failed');
}
