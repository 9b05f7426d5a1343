import { isSecretKey, MASK, maskSecrets } from 'session-process/visualizer';
import { describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { startVizApp, type VizApp } from './helpers.js';

const SECRET = 'S3CR3T-VALUE';

/** Every key the default masks, in the spellings apps use. */
const SECRET_KEYS = [
  'password',
  'Password',
  'newPassword',
  'passwd',
  'pass',
  'secret',
  'clientSecret',
  'token',
  'accessToken',
  'refresh_token',
  'cvv',
  'CVV2',
  'cvc',
  'pin',
  'PIN',
  'pinCode',
  'apiKey',
  'api_key',
  'X-API-Key',
  'authorization',
  'Authorization',
  'cookie',
  'Cookie',
  'ssn',
  'otp',
  'otpCode',
  'privateKey',
  'private_key',
  'card',
  'cardNumber',
  'card_number',
  'creditCard',
  'pan',
];
const PLAIN_KEYS = [
  'user',
  'shipping',
  'pinned',
  'auth',
  'discarded',
  'passenger',
  'items',
  'type',
];

describe('maskSecrets (the default sanitize)', () => {
  it.each(SECRET_KEYS)('masks %s', (key) => {
    expect(isSecretKey(key)).toBe(true);
    expect(maskSecrets({ [key]: SECRET })).toEqual({ [key]: MASK });
  });

  it.each(PLAIN_KEYS)('leaves %s alone', (key) => {
    expect(isSecretKey(key)).toBe(false);
    expect(maskSecrets({ [key]: 'x' })).toEqual({ [key]: 'x' });
  });

  it('masks at any depth: nested objects, arrays, Map values and Set members', () => {
    const masked = maskSecrets({
      a: { b: { c: [{ apiKey: SECRET, ok: 1 }] } },
      headers: new Map<unknown, unknown>([
        ['Authorization', `Bearer ${SECRET}`],
        ['accept', 'text/html'],
        ['nested', { password: SECRET }],
      ]),
      tags: new Set([{ otp: SECRET }, 'plain']),
    }) as any;
    expect(masked.a.b.c[0]).toEqual({ apiKey: MASK, ok: 1 });
    expect(masked.headers.get('Authorization')).toBe(MASK);
    expect(masked.headers.get('accept')).toBe('text/html');
    expect(masked.headers.get('nested')).toEqual({ password: MASK });
    expect([...masked.tags]).toEqual([{ otp: MASK }, 'plain']);
  });
});

const vault = setup({
  types: { context: {} as { profile: unknown; plain: string } },
}).createMachine({
  id: 'vault',
  context: { profile: null, plain: 'visible' },
  initial: 'idle',
  states: {
    idle: {
      on: {
        'vault.store': { actions: assign({ profile: ({ event }) => (event as any).profile }) },
      },
    },
  },
});

/** A value for every secret key, nested under a plain key, in an object, a Map and a Set. */
const profile = () => ({
  deep: { list: [Object.fromEntries(SECRET_KEYS.map((k) => [k, SECRET]))] },
  headers: new Map(SECRET_KEYS.map((k) => [k, SECRET])),
  bag: new Set([{ privateKey: SECRET, cvv: SECRET }]),
});

let app: VizApp | undefined;
describe('default sanitize on the feed', () => {
  it('masks secret keys in contexts and in events, at any depth', async () => {
    app = await startVizApp({}, { logic: vault });
    await app.sessions.start('v1');
    const feed = await app.feed();
    feed.send({ type: 'select', id: 'v1' });
    await feed.next((m) => m.type === 'snapshot');
    app.sessions.cast('v1', { type: 'vault.store', profile: profile(), token: SECRET });
    const events = await feed.next(
      (m) => m.type === 'events' && m.entries.some((e: any) => e.event.type === 'vault.store'),
    );
    const snap = await feed.next((m) => m.type === 'snapshot' && m.context.profile !== null);
    expect(snap.context.plain).toBe('visible');
    expect(snap.context.profile.deep.list[0].apiKey).toBe(MASK);
    const entry = events.entries.find((e: any) => e.event.type === 'vault.store');
    expect(entry.event.token).toBe(MASK);
    // Maps travel as [key, value] pairs: the values under secret keys are masked.
    expect(snap.context.profile.headers).toContainEqual(['Authorization', MASK]);
    expect(snap.context.profile.bag).toEqual([{ privateKey: MASK, cvv: MASK }]);
    expect(JSON.stringify(feed.messages)).not.toContain(SECRET);
  });

  it('still sends state values whose keys look like secrets, so the chart can mark them', async () => {
    const m = setup({}).createMachine({
      id: 'login',
      type: 'parallel',
      states: { password: { initial: 'empty', states: { empty: {} } } },
    });
    app = await startVizApp({}, { logic: m });
    await app.sessions.start('l1');
    const feed = await app.feed();
    feed.send({ type: 'select', id: 'l1' });
    const snap = await feed.next((msg) => msg.type === 'snapshot');
    expect(snap.value).toEqual({ password: 'empty' });
  });

  it('never passes state values through sanitize: a hook written for contexts leaves them intact', async () => {
    const shop = setup({
      types: { context: {} as { secret: string; items: string[] } },
    }).createMachine({
      id: 'shop',
      context: { secret: SECRET, items: [] },
      initial: 'browsing',
      states: { browsing: { on: { 'shop.pay': 'paying' } }, paying: {} },
    });
    const kinds: string[] = [];
    app = await startVizApp(
      {
        sanitize: (ctx: any, info) => {
          kinds.push(info.kind);
          return { ...ctx, secret: '***' };
        },
      },
      { logic: shop },
    );
    await app.sessions.start('s1');
    const feed = await app.feed();
    const list = await feed.next((m) => m.type === 'list' && m.rows?.length === 1);
    expect(list.rows[0].value).toBe('browsing');
    feed.send({ type: 'select', id: 's1' });
    const snap = await feed.next((m) => m.type === 'snapshot');
    expect(snap.value).toBe('browsing');
    expect(snap.context.secret).toBe('***');
    app.sessions.cast('s1', { type: 'shop.pay' });
    const moved = await feed.next((m) => m.type === 'snapshot' && m.value === 'paying');
    expect(moved.value).toBe('paying');
    expect(kinds).not.toContain('value');
    expect(JSON.stringify(feed.messages)).not.toContain(SECRET);
  });
});
