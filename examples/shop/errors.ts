import type { Context, Middleware } from 'koa';
import { isSessionError } from 'session-process';
import { html } from './html.js';
import { layout } from './views.js';

/**
 * The shop's error handler, mounted first: answers JSON `{ error: { code, message } }` under
 * `/api/` and an HTML page elsewhere, with the error's `status` (a `SessionError` carries its
 * own: 409 for an event the cart's state refuses, 503 and 429 from the session middleware) and
 * its `headers` (`Retry-After`). Messages of errors that are not `expose`d are replaced by the
 * status text; 5xx errors are also emitted on the app's `error` event for logging.
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
      if (ctx.status === 404 && ctx.body === undefined) ctx.throw(404, 'Not found');
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
      const code = typeof err.code === 'string' ? err.code : `HTTP_${status}`;
      ctx.status = status;
      if (err.headers) ctx.set(err.headers);
      if (ctx.path.startsWith('/api/')) {
        ctx.body = { error: { code, message } };
      } else {
        ctx.type = 'html';
        ctx.body = layout(
          statusText(status),
          html`<h1>${statusText(status)}</h1><p class="error">${message}</p><p><a href="/">Back to the shop</a></p>`,
        ).value;
      }
    }
  };
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    400: 'Bad request',
    401: 'Login required',
    402: 'Payment declined',
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
