import { afterEach, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import {
  createSessionSupervisor,
  isSessionError,
  memoryStore,
  reply,
  type SessionRecord,
  type SessionStore,
  type SessionSupervisor,
} from 'session-process';

/** A note that grows by `size` characters per `grow`. */
const note = setup({
  types: {
    context: {} as { text: string },
    events: {} as { type: 'grow'; size: number } | { type: 'length' } | { type: 'wait' },
  },
}).createMachine({
  context: { text: '' },
  initial: 'open',
  states: {
    open: { on: { wait: 'waiting' } },
    waiting: { after: { 60000: 'open' } },
  },
  on: {
    grow: {
      actions: [
        assign({ text: ({ context, event }) => context.text + 'x'.repeat(event.size) }),
        reply(({ context }) => context.text.length),
      ],
    },
    length: { actions: reply(({ context }) => context.text.length) },
  },
});

const open: SessionSupervisor[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.shutdown();
});
type Options = Parameters<typeof createSessionSupervisor>[0];
function supervisor(options: Options, errors: Array<{ err: unknown; source: string }> = []) {
  const s = createSessionSupervisor({
    logic: note,
    onError: (err, info) => errors.push({ err, source: info.source }),
    ...options,
  });
  open.push(s);
  return s;
}
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as Error & { code?: string; cause?: unknown },
  );
const recordOf = async (store: SessionStore, id: string) =>
  JSON.parse((await store.load(id))!.data) as SessionRecord & {
    snapshot: { context: { text: string } };
  };

/** Writes `data` as the session's record, over whatever is there. */
async function overwrite(store: SessionStore, id: string, data: string): Promise<void> {
  const stored = await store.load(id);
  const version = stored?.version ?? 0;
  const [result] = await store.save([
    { id, version: version + 1, expectedVersion: version, data, dueAt: null },
  ]);
  expect(result).toBe('ok');
}

describe('maxRecordBytes', () => {
  it('rejects a durable call whose record would exceed it before acknowledging it, and the session goes back to its last saved record', async () => {
    const store = memoryStore();
    const errors: Array<{ err: unknown; source: string }> = [];
    const s = supervisor({ store, durability: 'durable', maxRecordBytes: 4_000 }, errors);
    await s.start('n');
    expect(await s.call('n', { type: 'grow', size: 100 })).toBe(100);

    const refused = await failure(s.call('n', { type: 'grow', size: 5_000 }));
    expect(isSessionError(refused, 'RECORD_TOO_LARGE')).toBe(true);
    expect(refused).toMatchObject({ sessionId: 'n', limit: 4_000 });
    expect((refused as unknown as { bytes: number }).bytes).toBeGreaterThan(5_000);
    // Not written; the store still holds the acknowledged state, and so does the session.
    expect((await recordOf(store, 'n')).snapshot.context.text).toHaveLength(100);
    expect(await s.call('n', { type: 'length' })).toBe(100);
    expect(errors.map((e) => [e.source, (e.err as { code?: string }).code])).toEqual([
      ['store', 'RECORD_TOO_LARGE'],
    ]);
  });

  it('with eventual, reports the refusal and the session goes back to its last saved record', async () => {
    const store = memoryStore();
    const errors: Array<{ err: unknown; source: string }> = [];
    const s = supervisor({ store, durability: 'eventual', maxRecordBytes: 4_000 }, errors);
    await s.start('e');
    s.cast('e', { type: 'grow', size: 100 });
    await expect
      .poll(async () => (await recordOf(store, 'e')).snapshot.context.text.length)
      .toBe(100);
    const ended: unknown[] = [];
    s.subscribe('e', (m) => ended.push(m));
    s.cast('e', { type: 'grow', size: 5_000 });
    await expect.poll(() => errors.length).toBe(1);
    expect(errors[0]!.source).toBe('store');
    expect(isSessionError(errors[0]!.err, 'RECORD_TOO_LARGE')).toBe(true);
    expect(ended.at(-1)).toMatchObject({ type: 'ended', reason: 'crashed' });
    expect(await s.call('e', { type: 'length' })).toBe(100);
  });

  it('refuses a stored record over it on read, from its length, without parsing it', async () => {
    const store = memoryStore();
    const s = supervisor({ store, maxRecordBytes: 4_000 });
    await s.start('ok');
    await s.start('big');
    await s.shutdown();
    // Not even JSON: a parse would fail with a SyntaxError, not RECORD_TOO_LARGE.
    await overwrite(store, 'big', `{${'y'.repeat(10_000)}`);

    const next = supervisor({ store, maxRecordBytes: 4_000 });
    const refused = await failure(next.call('big', { type: 'length' }));
    expect(isSessionError(refused, 'SESSION_RESTORE_FAILED')).toBe(true);
    expect(isSessionError(refused!.cause, 'RECORD_TOO_LARGE')).toBe(true);
    expect(refused!.cause).toMatchObject({ bytes: 10_001, limit: 4_000 });
    expect(await next.call('ok', { type: 'length' })).toBe(0);
  });

  it('refuses a stored record with more timers than maxTimers', async () => {
    const store = memoryStore();
    const s = supervisor({ store });
    await s.start('t');
    s.cast('t', { type: 'wait' });
    await s.shutdown();
    const record = await recordOf(store, 't');
    const timers = Array.from({ length: 11 }, (_, i) => ({ ...record.timers[0]!, id: `t${i}` }));
    await overwrite(store, 't', JSON.stringify({ ...record, timers }));

    const next = supervisor({ store, maxTimers: 10 });
    const refused = await failure(next.call('t', { type: 'length' }));
    expect(isSessionError(refused, 'SESSION_RESTORE_FAILED')).toBe(true);
    expect(isSessionError(refused!.cause, 'TOO_MANY_TIMERS')).toBe(true);
  });
});

describe('recordKey', () => {
  const key = 'k'.repeat(32);

  it('signs records and restores them with the key', async () => {
    const store = memoryStore();
    const s = supervisor({ store, recordKey: key });
    await s.start('a');
    await s.call('a', { type: 'grow', size: 3 });
    await s.shutdown();
    expect((await store.load('a'))!.data).toMatch(/^hmac-sha256:[\w-]{43}:\{/);

    const next = supervisor({ store, recordKey: key });
    expect(await next.call('a', { type: 'length' })).toBe(3);
  });

  it.each([
    [
      'a tampered record',
      (data: string) => data.replace('"text":"xxx"', '"text":"xxxxxxxx"'),
      /signature matches no recordKey/,
    ],
    ['an unsigned record', (data: string) => data.slice(data.indexOf('{')), /not signed/],
    [
      'a record signed with another key',
      (data: string) => `hmac-sha256:${'A'.repeat(43)}${data.slice(data.indexOf(':{'))}`,
      /signature matches no recordKey/,
    ],
  ])(
    'refuses %s with SESSION_RESTORE_FAILED and runs the others on',
    async (_what, spoil, cause) => {
      const store = memoryStore();
      const s = supervisor({ store, recordKey: key });
      await s.start('good');
      await s.start('bad');
      await s.call('bad', { type: 'grow', size: 3 });
      await s.shutdown();
      const data = (await store.load('bad'))!.data;
      const spoilt = spoil(data);
      expect(spoilt).not.toBe(data);
      await overwrite(store, 'bad', spoilt);

      const next = supervisor({ store, recordKey: key });
      const refused = await failure(next.call('bad', { type: 'length' }));
      expect(isSessionError(refused, 'SESSION_RESTORE_FAILED')).toBe(true);
      expect(String((refused!.cause as Error).message)).toMatch(cause);
      expect(await next.call('good', { type: 'length' })).toBe(0);
    },
  );

  it('rotates: signs with the first key, accepts any of them', async () => {
    const store = memoryStore();
    const old = supervisor({ store, recordKey: 'old-'.repeat(8) });
    await old.start('r');
    await old.call('r', { type: 'grow', size: 2 });
    await old.shutdown();

    const rotated = supervisor({ store, recordKey: ['new-'.repeat(8), 'old-'.repeat(8)] });
    expect(await rotated.call('r', { type: 'grow', size: 1 })).toBe(3);
    await rotated.shutdown();

    const newOnly = supervisor({ store, recordKey: 'new-'.repeat(8) });
    expect(await newOnly.call('r', { type: 'length' })).toBe(3);
  });

  it('refuses an empty key and a key without a store', () => {
    expect(() =>
      createSessionSupervisor({ logic: note, store: memoryStore(), recordKey: '' }),
    ).toThrow(/recordKey\[0\]/);
    expect(() => createSessionSupervisor({ logic: note, recordKey: key })).toThrow(/needs a store/);
  });
});
