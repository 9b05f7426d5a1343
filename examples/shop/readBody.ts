import type { Context } from 'koa';

/** Options of {@link readBody}. */
export interface ReadBodyOptions {
  /** Larger bodies are refused with 413. @default 16_384 (16 KiB) */
  limitBytes?: number;
}

/**
 * Reads a JSON (`application/json`) or form (`application/x-www-form-urlencoded`) request body
 * into a plain object. No dependency: the demo's forms and API bodies are small and flat.
 * Throws Koa HTTP errors: 413 (too large), 415 (another type), 400 (malformed JSON or not an
 * object). An empty body reads as `{}`.
 *
 * @example
 * ```ts
 * const { sku, qty } = await readBody(ctx);
 * ```
 */
export async function readBody(
  ctx: Context,
  options: ReadBodyOptions = {},
): Promise<Record<string, unknown>> {
  const limit = options.limitBytes ?? 16_384;
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) ctx.throw(413, `Request body larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) ctx.throw(413, `Request body larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  const type = ctx.request.is('json', 'urlencoded');
  if (type === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      ctx.throw(400, 'Malformed JSON body');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      ctx.throw(400, 'The JSON body must be an object');
    }
    return parsed as Record<string, unknown>;
  }
  if (type === 'urlencoded') return Object.fromEntries(new URLSearchParams(text));
  return ctx.throw(415, 'Send application/json or application/x-www-form-urlencoded');
}
