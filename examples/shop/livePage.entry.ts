// The shop pages' live script (bundled by scripts/build-assets.mjs into dist/examples/shop/livePage.js):
// follows the session's cart over `session-process/live`, so a change in another tab shows here,
// and tells the user when the session has ended.
import { connectLive } from 'session-process/client';
import type { CartState } from './cartState.js';
import { formatPrice } from './views.js';

const scheme = location.protocol === 'https:' ? 'wss' : 'ws';

function setText(selector: string, text: string): void {
  document.querySelectorAll(selector).forEach((el) => {
    el.textContent = text;
  });
}

function cell(text: string, className?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function removeForm(sku: string): HTMLFormElement {
  const form = document.createElement('form');
  form.className = 'inline';
  form.method = 'post';
  form.action = '/cart/remove';
  const input = document.createElement('input');
  input.type = 'hidden';
  input.name = 'sku';
  input.value = sku;
  const button = document.createElement('button');
  button.textContent = 'Remove';
  form.append(input, button);
  return form;
}

/** The cart page's table, rebuilt from the state (text only: nothing is parsed as HTML). */
function renderCartTable(cart: CartState): void {
  if (location.pathname !== '/cart') return;
  const total = document.querySelector('[data-cart-total]');
  const tbody = total?.closest('table')?.querySelector('tbody');
  // Empty <-> not empty changes the page's structure (and its buttons): the server renders it
  // again. A GET: the pages post their forms and redirect, so nothing is sent twice.
  if (!tbody !== (cart.items.length === 0)) {
    location.reload();
    return;
  }
  if (!tbody) return;
  const rows = cart.items.map((item) => {
    const tr = document.createElement('tr');
    tr.dataset.sku = item.sku;
    const actions = document.createElement('td');
    if (cart.stage === 'shopping') actions.append(removeForm(item.sku));
    tr.append(
      cell(item.name),
      cell(String(item.qty), 'num'),
      cell(formatPrice(item.qty * item.price), 'num'),
      actions,
    );
    return tr;
  });
  tbody.replaceChildren(...rows);
}

function showEnded(reason: string): void {
  if (document.querySelector('[data-session-ended]')) return;
  const notice = document.createElement('p');
  notice.setAttribute('role', 'alert');
  notice.dataset.sessionEnded = reason;
  notice.className = 'error';
  const link = document.createElement('a');
  link.href = location.pathname;
  link.textContent = 'Reload';
  notice.append(`Your session ended (${reason}). `, link, ' to start a new one.');
  (document.querySelector('main') ?? document.body).prepend(notice);
}

connectLive<CartState>(`${scheme}://${location.host}/live`, {
  onSnapshot: ({ view }) => {
    setText('[data-cart-count]', String(view.count));
    setText('[data-cart-total]', formatPrice(view.total));
    renderCartTable(view);
  },
  onEnded: (reason) => {
    // Logging in rotates the session ID (a new cookie for every tab): the other tabs follow it
    // by loading again. The tab that logged in is already on its way to the next page.
    if (reason === 'rotated') setTimeout(() => location.reload(), 500);
    else showEnded(reason);
  },
  onError: (err) => console.warn('live view:', err.code, err.message),
  // The cookie's session could not be restored (a deploy removed its state): the next request
  // gets a fresh one, and the view follows it once that request is answered.
  onReplaced: () => fetch('/api/cart', { credentials: 'same-origin' }),
});
