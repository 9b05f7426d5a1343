/** A product the demo shop sells. Prices are integers in cents, so totals never round. */
export interface Product {
  /** Stock-keeping unit: the product's stable key (what `cart.add` carries). */
  readonly sku: string;
  readonly name: string;
  /** Unit price in cents. */
  readonly price: number;
}

/**
 * The demo shop's products, used by `cartMachine` to price what is added to a cart.
 *
 * @example
 * ```ts
 * import { catalog, findProduct } from './catalog.js';
 *
 * catalog.map((p) => p.sku);     // ['A1', 'B2', 'C3', 'D4', 'E5']
 * findProduct('A1')?.price;      // 2490 (cents)
 * ```
 */
export const catalog: readonly Product[] = Object.freeze([
  Object.freeze({ sku: 'A1', name: 'Espresso beans, 1 kg', price: 2_490 }),
  Object.freeze({ sku: 'B2', name: 'Ceramic cup', price: 1_200 }),
  Object.freeze({ sku: 'C3', name: 'Hand grinder', price: 6_900 }),
  Object.freeze({ sku: 'D4', name: 'Paper filters (100)', price: 450 }),
  Object.freeze({ sku: 'E5', name: 'Gooseneck kettle', price: 4_500 }),
]);

/**
 * The catalog entry for `sku`, or `undefined` when the shop does not sell it.
 *
 * @example
 * ```ts
 * findProduct('B2'); // { sku: 'B2', name: 'Ceramic cup', price: 1200 }
 * findProduct('ZZ'); // undefined
 * ```
 */
export function findProduct(sku: string): Product | undefined {
  return catalog.find((product) => product.sku === sku);
}
