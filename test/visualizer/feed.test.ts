import { describe, expect, it } from 'vitest';
import { startVizApp, type VizApp } from './helpers.js';

let app: VizApp | undefined;
describe('feed', () => {
  it('sends a page of sessions with the total count', async () => {
    app = await startVizApp();
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await app.client().id());
    const feed = await app.feed();
    feed.send({ type: 'list', offset: 1, limit: 2 });
    const list = await feed.next((m) => m.type === 'list' && m.offset === 1);
    expect(list.total).toBe(5);
    expect(list.rows.map((r: { id: string }) => r.id)).toEqual(ids.slice(1, 3));
    expect(list.rows[0]).toMatchObject({
      logic: 'default',
      value: { auth: 'anonymous', cart: { shopping: 'empty' } },
      status: 'active',
    });
  });

  it('sends list changes batched, at most once per throttle interval', async () => {
    app = await startVizApp({ throttleMs: 250 });
    const feed = await app.feed();
    feed.send({ type: 'list', offset: 0, limit: 10 });
    await feed.next((m) => m.type === 'list');
    const from = feed.messages.length;
    const t0 = Date.now();
    for (let i = 0; i < 200; i++) await app.sessions.start(`s-${i}`);
    const last = await feed.next((m) => m.type === 'list' && m.total === 200, { from });
    const elapsed = Date.now() - t0;
    const lists = feed.messages.slice(from).filter((m) => m.type === 'list');
    expect(last.rows).toHaveLength(10);
    expect(lists.length).toBeLessThanOrEqual(Math.ceil(elapsed / 250) + 1);
  });

  it('sends the selected session’s machine, snapshot and events, through sanitize', async () => {
    app = await startVizApp();
    const client = app.client();
    const id = await client.id();
    const feed = await app.feed();
    feed.send({ type: 'select', id });
    const machine = await feed.next((m) => m.type === 'machine');
    expect(machine.id).toBe(id);
    expect(machine.machine.root.type).toBe('parallel');
    const auth = machine.machine.root.states.find((s: { key: string }) => s.key === 'auth');
    expect(auth.initial).toEqual(['cart.auth.anonymous']);
    const login = auth.states[0].transitions.find(
      (t: { event: string }) => t.event === 'auth.login',
    );
    expect(login).toMatchObject({ guard: 'validUser', targets: ['cart.auth.loggedIn'] });
    await feed.next((m) => m.type === 'snapshot' && m.value.auth === 'anonymous');

    await client.send({ type: 'cart.add', sku: 'A1' });
    await client.send({ type: 'auth.login', user: 'ada' });
    await client.send({ type: 'checkout.start' });
    await client.send({ type: 'checkout.pay', card: '4242424242424242' });
    const paid = await feed.next(
      (m) => m.type === 'events' && m.entries.some((e: any) => e.event.type === 'checkout.pay'),
    );
    const pay = paid.entries.find((e: any) => e.event.type === 'checkout.pay');
    expect(pay.event.card).toBe('••••••');
    expect(typeof pay.at).toBe('number');
    await feed.next((m) => m.type === 'snapshot' && m.value.auth === 'loggedIn');
    expect(JSON.stringify(feed.messages)).not.toContain('4242424242424242');
  });

  it('uses a custom sanitize for contexts and events', async () => {
    app = await startVizApp({
      sanitize: (v, { kind }) => (kind === 'context' ? { hidden: true } : v),
    });
    const id = await app.client().id();
    const feed = await app.feed();
    feed.send({ type: 'select', id });
    const snap = await feed.next((m) => m.type === 'snapshot');
    expect(snap.context).toEqual({ hidden: true });
  });

  it('casts an event to the session when allowSend is true', async () => {
    app = await startVizApp({ allowSend: true });
    const id = await app.client().id();
    const feed = await app.feed();
    feed.send({ type: 'select', id });
    await feed.next((m) => m.type === 'snapshot');
    feed.send({ type: 'send', id, event: { type: 'auth.login', user: 'grace' } });
    await feed.next((m) => m.type === 'sent' && m.eventType === 'auth.login');
    await feed.next((m) => m.type === 'snapshot' && m.value.auth === 'loggedIn');
    expect(app.sessions.snapshot(id).context.user).toBe('grace');
  });

  it('rejects sending when allowSend is false', async () => {
    app = await startVizApp({ allowSend: false });
    const id = await app.client().id();
    const feed = await app.feed();
    const hello = await feed.next((m) => m.type === 'hello');
    expect(hello.allowSend).toBe(false);
    feed.send({ type: 'send', id, event: { type: 'auth.login', user: 'mallory' } });
    await feed.next((m) => m.type === 'error' && m.code === 'SEND_NOT_ALLOWED');
    expect(app.sessions.snapshot(id).value).toMatchObject({ auth: 'anonymous' });
  });

  it('tells the page when the selected session ends', async () => {
    app = await startVizApp();
    const id = await app.client().id();
    const feed = await app.feed();
    feed.send({ type: 'select', id });
    await feed.next((m) => m.type === 'snapshot');
    await app.sessions.terminate(id);
    const ended = await feed.next((m) => m.type === 'ended');
    expect(ended).toMatchObject({ id, reason: 'terminated' });
  });

  it('follows the selected session when its ID is rotated', async () => {
    app = await startVizApp();
    const id = await app.client().id();
    const feed = await app.feed();
    feed.send({ type: 'select', id });
    await feed.next((m) => m.type === 'snapshot');
    await app.sessions.rename(id, 'rotated-id');
    const renamed = await feed.next((m) => m.type === 'renamed');
    expect(renamed).toEqual({ type: 'renamed', id, to: 'rotated-id' });
    app.sessions.cast('rotated-id', { type: 'auth.login', user: 'ada' });
    await feed.next(
      (m) => m.type === 'snapshot' && m.id === 'rotated-id' && m.value.auth === 'loggedIn',
    );
  });

  it('answers SESSION_NOT_FOUND for an unknown session and BAD_MESSAGE for garbage', async () => {
    app = await startVizApp();
    const feed = await app.feed();
    feed.send({ type: 'select', id: 'nope' });
    await feed.next((m) => m.type === 'error' && m.code === 'SESSION_NOT_FOUND');
    feed.send({ hello: 1 });
    await feed.next((m) => m.type === 'error' && m.code === 'BAD_MESSAGE');
  });

  it('does not keep a watched session alive or mark it active', async () => {
    app = await startVizApp();
    const id = await app.client().id();
    const before = app.sessions.list().find((r) => r.id === id)!;
    const feed = await app.feed();
    feed.send({ type: 'select', id });
    await feed.next((m) => m.type === 'snapshot');
    const after = app.sessions.list().find((r) => r.id === id)!;
    expect(after.subscribers).toBe(0);
    expect(after.lastActiveAt).toBe(before.lastActiveAt);
  });
});
