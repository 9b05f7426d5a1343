import type { Context, Middleware, Next } from 'koa';

/** A route handler: `params` holds the decoded `:name` segments of the path. */
export type RouteHandler = (ctx: Context, params: Record<string, string>) => unknown;

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: RouteHandler;
}

/**
 * A minimal method + path router (`/cart/items/:sku`), enough for the demo without a
 * dependency. Unmatched requests go on to the next middleware, so an app built on it stays
 * open to more middleware mounted after it; a matched path with another method answers 405.
 *
 * @example
 * ```ts
 * const router = createRouter();
 * router.get('/api/cart', async (ctx) => { ctx.body = await ctx.sessionProcess.call({ type: 'cart.get' }); });
 * app.use(router.middleware());
 * ```
 */
export function createRouter() {
  const routes: Route[] = [];
  const add = (method: string) => (path: string, handler: RouteHandler) => {
    const names: string[] = [];
    const source = path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    routes.push({ method, pattern: new RegExp(`^${source}$`), names, handler });
  };
  return {
    get: add('GET'),
    post: add('POST'),
    delete: add('DELETE'),
    middleware(): Middleware {
      return async (ctx: Context, next: Next) => {
        const allowed: string[] = [];
        for (const route of routes) {
          const match = route.pattern.exec(ctx.path);
          if (!match) continue;
          allowed.push(route.method);
          if (route.method !== ctx.method && !(route.method === 'GET' && ctx.method === 'HEAD'))
            continue;
          const params: Record<string, string> = {};
          route.names.forEach((name, i) => {
            params[name] = decodeURIComponent(match[i + 1] ?? '');
          });
          await route.handler(ctx, params);
          return;
        }
        if (allowed.length > 0) {
          ctx.status = 405;
          ctx.body = '';
          ctx.set('Allow', allowed.join(', '));
          return;
        }
        await next();
      };
    },
  };
}
