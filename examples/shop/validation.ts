import type { Context } from 'koa';
import { z } from 'zod';

/** A product code in a path or a body: letters, digits, `_` and `-` (the catalog uses `A1`...). */
const sku = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be a product code');

const QTY = 'must be a whole number from 1 to 99';

/**
 * A quantity, 1 to 99: a JSON integer, or, from an HTML form (where every value is a string), its
 * plain decimal digits. Nothing is coerced: `"0x10"`, `"1e1"`, `" 7 "`, `true` or `[5]` are refused,
 * and so is a string in a JSON body.
 */
const jsonQty = z.number({ error: QTY }).int(QTY).min(1, QTY).max(99, QTY);
const formQty = z
  .string({ error: QTY })
  .regex(/^(?:[1-9][0-9]?)?$/, QTY) // an empty field means the default, 1
  .transform((digits) => (digits === '' ? undefined : Number(digits)));

/** Where to go after a form: checked again by the pages (`localPath`). */
const next = z.string().max(2_000).optional();

/** The bodies the shop accepts, JSON or form-encoded alike. */
export const schemas = {
  /** `POST /api/cart/items` with a JSON body. */
  addItem: z.object({ sku, qty: jsonQty.optional(), next }),
  /** The same from a form (the pages' Add buttons, or the API with a form body). */
  addItemForm: z.object({ sku, qty: formQty.optional(), next }),
  removeItem: z.object({ sku }),
  skuParam: z.object({ sku }),
  login: z.object({ user: z.string().max(200), next }),
  pay: z.object({ card: z.string().max(64) }),
  form: z.object({ next }),
};

/**
 * The events a page may send over its live view, each with the schema of its payload (the bridge
 * refuses one that fails with `INVALID_EVENT`, and the cart receives the schema's output, unknown
 * keys stripped): the same rules as the JSON API's, so `{ type: 'cart.add', qty: 1e15 }` never
 * reaches the cart.
 */
export const liveEvents = {
  'cart.add': z.object({ sku, qty: jsonQty.optional() }),
  'cart.remove': schemas.removeItem,
  'cart.get': true,
} as const;

/**
 * Validates `value` with `schema`, or throws a 400 `invalid_request` whose message names the
 * field and what is wrong (`qty: must be a whole number from 1 to 99`).
 *
 * @example
 * ```ts
 * const { sku, qty } = parse(ctx, schemas.addItem, ctx.request.body);
 * ```
 */
export function parse<T extends z.ZodType>(ctx: Context, schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') || 'body';
  return ctx.throw(400, `${field}: ${issue?.message ?? 'invalid'}`, { code: 'invalid_request' });
}
