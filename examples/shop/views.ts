import { catalog } from '../../machines/catalog.js';
import type { CartState } from './cartState.js';
import { html, SafeHtml } from './html.js';
import { hasSession } from './sessionless.js';

/** The URL of the pages' live script (served by `attachShopLive`, examples/shop/live.ts). */
export const SHOP_LIVE_SCRIPT = '/assets/livePage.js';

const money = new Intl.NumberFormat('en-IE', { style: 'currency', currency: 'EUR' });

/** Cents as a price (`2490` → `€24.90`). */
export function formatPrice(cents: number): string {
  return money.format(cents / 100);
}

const STYLE = new SafeHtml(`
body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
header { display: flex; gap: 1rem; align-items: baseline; border-bottom: 1px solid #ddd; margin-bottom: 1rem; }
header nav { margin-left: auto; display: flex; gap: 1rem; align-items: baseline; }
form.inline { display: inline; }
table { border-collapse: collapse; width: 100%; }
td, th { padding: .3rem .5rem; border-bottom: 1px solid #eee; text-align: left; }
td.num, th.num { text-align: right; }
.error { color: #b00020; }
.muted { color: #666; }
button { cursor: pointer; }
`);

/**
 * The page frame: title, header with the cart count and the user, and `body`. `cart` is
 * optional so error pages render without a session.
 *
 * @example
 * ```ts
 * ctx.body = layout('Cart', html`<h1>Cart</h1>`, state).value;
 * ```
 */
export function layout(title: string, body: SafeHtml, cart?: CartState): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · session-process shop</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <strong><a href="/">session-process shop</a></strong>
  <nav>
    <a href="/cart">Cart (<span data-cart-count>${cart?.count ?? 0}</span>)</a>
    ${
      cart?.user
        ? html`<span>Signed in as <strong data-user>${cart.user}</strong></span>
    <form class="inline" method="post" action="/logout"><button>Log out</button></form>`
        : html`<a href="/login">Log in</a>`
    }
  </nav>
</header>
<main>
${body}
</main>
${cart && hasSession(cart) ? html`<script type="module" src="${SHOP_LIVE_SCRIPT}"></script>` : ''}
</body>
</html>`;
}

/** The product list, each with a quantity and an Add button. */
export function productsPage(cart: CartState): SafeHtml {
  const rows = catalog.map(
    (p) => html`<tr data-sku="${p.sku}">
  <td>${p.name}</td><td class="num">${formatPrice(p.price)}</td>
  <td><form class="inline" method="post" action="/cart/add">
    <input type="hidden" name="sku" value="${p.sku}">
    <input type="number" name="qty" value="1" min="1" max="99" aria-label="Quantity of ${p.name}">
    <button>Add</button>
  </form></td>
</tr>`,
  );
  return layout(
    'Products',
    html`<h1>Products</h1>
${cart.stage !== 'shopping' ? html`<p class="muted">Your cart is in checkout: <a href="/checkout">continue</a>.</p>` : ''}
<table><thead><tr><th>Product</th><th class="num">Price</th><th></th></tr></thead>
<tbody>${rows}</tbody></table>`,
    cart,
  );
}

function itemsTable(cart: CartState, removable: boolean): SafeHtml {
  const rows = cart.items.map(
    (item) => html`<tr data-sku="${item.sku}">
  <td>${item.name}</td><td class="num">${item.qty}</td><td class="num">${formatPrice(item.qty * item.price)}</td>
  <td>${
    removable
      ? html`<form class="inline" method="post" action="/cart/remove"><input type="hidden" name="sku" value="${item.sku}"><button>Remove</button></form>`
      : ''
  }</td>
</tr>`,
  );
  return html`<table><thead><tr><th>Item</th><th class="num">Qty</th><th class="num">Amount</th><th></th></tr></thead>
<tbody>${rows}</tbody>
<tfoot><tr><th>Total</th><td></td><td class="num" data-cart-total>${formatPrice(cart.total)}</td><td></td></tr></tfoot></table>`;
}

/** The cart with Remove buttons and the way to checkout (login first when anonymous). */
export function cartPage(cart: CartState): SafeHtml {
  if (cart.items.length === 0) {
    return layout(
      'Cart',
      html`<h1>Cart</h1><p>Your cart is empty. <a href="/">Browse products</a>.</p>`,
      cart,
    );
  }
  const next = cart.user
    ? html`<form method="post" action="/checkout"><button>Check out</button></form>`
    : html`<p><a href="/login?next=/cart">Log in</a> to check out.</p>`;
  const clear =
    cart.stage === 'shopping'
      ? html`<form method="post" action="/cart/clear"><button>Empty the cart</button></form>`
      : '';
  return layout(
    'Cart',
    html`<h1>Cart</h1>${itemsTable(cart, cart.stage === 'shopping')}${clear}${next}`,
    cart,
  );
}

/** The login form; `next` is where to go afterwards (a local path). */
export function loginPage(cart: CartState, next: string, error?: string): SafeHtml {
  return layout(
    'Log in',
    html`<h1>Log in</h1>
${error ? html`<p class="error">${error}</p>` : ''}
<form method="post" action="/login">
  <input type="hidden" name="next" value="${next}">
  <label>Name <input name="user" required maxlength="40" autocomplete="username"></label>
  <button>Log in</button>
</form>
<p class="muted">Any name will do: this demo has no passwords. Logging in gives your session a new ID
(<code>ctx.sessionProcess.rotate()</code>), keeping your cart.</p>`,
    cart,
  );
}

/** Review and payment (also the failed and paying steps). */
export function checkoutPage(cart: CartState): SafeHtml {
  const failed =
    cart.stage === 'failed'
      ? html`<p class="error" data-payment-error>Payment failed: ${cart.lastError}</p>`
      : '';
  const body =
    cart.stage === 'paying'
      ? html`<p>Payment in progress… <a href="/checkout">refresh</a></p>`
      : html`${failed}
<form method="post" action="/checkout/pay">
  <label>Card number <input name="card" required inputmode="numeric" value="4242424242424242"></label>
  <button>Pay ${formatPrice(cart.total)}</button>
</form>
<p class="muted">Test cards: 4242424242424242 is accepted, 4000000000000002 is declined.</p>
<form method="post" action="/checkout/cancel"><button>Back to the cart</button></form>`;
  return layout('Checkout', html`<h1>Checkout</h1>${itemsTable(cart, false)}${body}`, cart);
}

/** The order confirmation. */
export function orderPage(cart: CartState): SafeHtml {
  return layout(
    'Order confirmed',
    html`<h1>Thank you${cart.user ? html`, ${cart.user}` : ''}!</h1>
<p>Your order <strong data-order-id>${cart.orderId}</strong> is confirmed.</p>
<form method="post" action="/order/new"><button>Continue shopping</button></form>`,
    cart,
  );
}
