import { describe, expect, it, vi } from 'vitest';
import { createSessionSupervisor, isSessionError, memoryStore } from 'session-process';
import { cartMachine } from '../../../machines/cart.js';

describe("the demo cart's payment, saved while it runs", () => {
  it('runs again after the restore (at least once) and completes the order', async () => {
    const store = memoryStore();
    const first = createSessionSupervisor({ logics: { cart: cartMachine }, store });
    await first.start('buyer', { logic: 'cart', input: { paymentDelayMs: 100 } });
    first.cast('buyer', { type: 'cart.add', sku: 'A1' });
    first.cast('buyer', { type: 'auth.login', user: 'ada' });
    first.cast('buyer', { type: 'checkout.start' });
    const paying = first.call('buyer', { type: 'checkout.pay', card: '4242424242424242' });
    await first.shutdown(); // the process stops while the payment provider is answering
    const err = await paying.catch((e: unknown) => e);
    expect(isSessionError(err, 'SESSION_ENDED')).toBe(true);

    const second = createSessionSupervisor({ logics: { cart: cartMachine }, store });
    expect(second.snapshot('buyer').value).toMatchObject({ cart: { checkout: 'paying' } });
    await vi.waitFor(() =>
      expect(second.snapshot('buyer').value).toMatchObject({ cart: 'ordered' }),
    );
    const after = second.snapshot('buyer');
    expect(after.context.orderId).toMatch(/^ord_/);
    expect(after.context.items).toEqual([]);
    await second.shutdown();
  });
});
