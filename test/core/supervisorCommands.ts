import fc from 'fast-check';
import type { SessionMessage, SessionSupervisor } from 'session-process';
import { expect, vi } from 'vitest';
import type { PropertyEventType } from './propertyMachine.js';
import type { Outcome, SupervisorModel } from './SupervisorModel.js';

/** The real side: the supervisor and what its callers saw. */
export interface Real {
  sessions: SessionSupervisor;
  calls: Array<{ outcome: Outcome | undefined }>;
  subs: Array<{ messages: SessionMessage[]; off: () => void }>;
}

type Cmd = fc.AsyncCommand<SupervisorModel, Real>;

/** IDs the commands use: few, so that starts, renames and tombstones collide often. */
export const IDS = ['a', 'b', 'c'] as const;
const EVENTS: PropertyEventType[] = ['inc', 'get', 'wait', 'release', 'lock', 'unlock'];
const CRASHES: PropertyEventType[] = ['boom', 'boom.guard'];

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : `not a SessionError: ${String(err)}`;
}

/**
 * Lets promise callbacks, queued replies and a store's write-behind run (timers are fake: only
 * what is due now fires; model time does not move).
 */
export async function flush(): Promise<void> {
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 10; i++) await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    vi.advanceTimersByTime(0);
  }
}

async function outcomeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return codeOf(err);
  }
}

/** After every command: the supervisor agrees with the model. */
export function agree(m: SupervisorModel, r: Real, options: { stored?: boolean } = {}): void {
  // How calls settled first: when they disagree, that is the clearest message.
  for (const [i, call] of m.calls.entries())
    expect(r.calls[i]!.outcome, `call #${i}`).toEqual(call.outcome);
  const ids = [...m.sessions.keys()].sort();
  expect(r.sessions.count, 'count').toBe(ids.length);
  expect(
    r.sessions
      .list()
      .map((s) => [s.id, s.value, s.subscribers])
      .sort(),
    'list()',
  ).toEqual(ids.map((id) => [id, m.sessions.get(id)!.state, m.sessions.get(id)!.subs.size]));
  // After a shutdown with a store, the sessions live on in the store (DESIGN.md): `started` says so.
  if (!options.stored)
    for (const id of IDS) expect(r.sessions.started(id), `started(${id})`).toBe(m.sessions.has(id));
  for (const [id, s] of m.sessions)
    expect(r.sessions.snapshot(id).context.n, `snapshot(${id}).context.n`).toBe(s.n);
  const stats = r.sessions.stats();
  expect(stats.pendingCalls, 'stats().pendingCalls').toBe(m.pendingCalls());
  expect(stats.subscribers, 'stats().subscribers').toBe(m.activeSubs());
  for (const [i, sub] of m.subs.entries()) {
    const messages = r.subs[i]!.messages;
    const snapshots = messages.filter((x) => x.type === 'snapshot');
    const ended = messages.filter((x) => x.type === 'ended');
    expect(snapshots.length, `subscriber #${i}: snapshots`).toBe(sub.snapshots);
    const versions = snapshots.map((x) => x.version);
    expect(versions, `subscriber #${i}: versions increase`).toEqual(
      [...versions].sort((a, b) => a - b),
    );
    expect(new Set(versions).size, `subscriber #${i}: no version twice`).toBe(versions.length);
    if (sub.last) {
      const last = snapshots.at(-1)!.snapshot;
      expect({ value: last.value, n: last.context.n }, `subscriber #${i}: last snapshot`).toEqual(
        sub.last,
      );
    }
    const reason = sub.ended === undefined || sub.ended === 'unsubscribed' ? [] : [sub.ended];
    expect(
      ended.map((x) => x.reason),
      `subscriber #${i}: ended`,
    ).toEqual(reason);
    if (ended.length)
      expect(messages.at(-1)!.type, `subscriber #${i}: ended comes last`).toBe('ended');
  }
}

/** What the commands did, over every run of a file (printed as the suite's figures). */
export const tally = {
  commands: 0,
  byKind: {} as Record<string, number>,
  /** Operations the model expected to be refused, by code (calls counted at settlement). */
  refused: {} as Record<string, number>,
};
const count = (rec: Record<string, number>, key: string) => {
  rec[key] = (rec[key] ?? 0) + 1;
};
export const refused = (code: string | undefined) => {
  if (code !== undefined) count(tally.refused, code);
};

function command(label: string, run: (m: SupervisorModel, r: Real) => Promise<void> | void): Cmd {
  return {
    check: () => true,
    async run(m, r) {
      tally.commands++;
      count(tally.byKind, label.slice(0, label.indexOf('(')));
      await run(m, r);
      await flush();
      agree(m, r);
    },
    toString: () => label,
  };
}

const id = fc.constantFrom(...IDS);
// Crashes are rarer than the rest, so sessions live long enough to be used in between.
const event = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...EVENTS) },
  { weight: 1, arbitrary: fc.constantFrom(...CRASHES) },
);

/** One command per public operation, for sequences written by hand (regression cases). */
export const cmd = {
  start: (i: string) =>
    command(`start(${i})`, async (m, r) => {
      const expected = m.start(i);
      refused(expected);
      expect(await outcomeOf(r.sessions.start(i)), `start(${i})`).toBe(expected);
    }),
  call: (i: string, e: PropertyEventType) =>
    command(`call(${i}, ${e})`, (m, r) => {
      m.call(i, e);
      const rec: Real['calls'][number] = { outcome: undefined };
      r.calls.push(rec);
      let p: Promise<unknown>;
      try {
        p = r.sessions.call(i, { type: e });
      } catch (err) {
        // A call must never throw: every failure is a rejected promise with a code.
        rec.outcome = { code: `threw synchronously: ${codeOf(err)}` };
        return;
      }
      p.then(
        (value) => {
          rec.outcome = { value };
        },
        (err) => {
          rec.outcome = { code: codeOf(err) };
        },
      );
    }),
  cast: (i: string, e: PropertyEventType) =>
    command(`cast(${i}, ${e})`, (m, r) => {
      const expected = m.cast(i, e);
      refused(expected);
      let thrown: string | undefined;
      try {
        r.sessions.cast(i, { type: e });
      } catch (err) {
        thrown = codeOf(err);
      }
      expect(thrown, `cast(${i}, ${e}) throws`).toBe(expected);
    }),
  terminate: (i: string) =>
    command(`terminate(${i})`, async (m, r) => {
      const expected = m.terminate(i);
      refused(expected);
      expect(await outcomeOf(r.sessions.terminate(i)), `terminate(${i})`).toBe(expected);
    }),
  touch: (i: string) =>
    command(`touch(${i})`, (m, r) => {
      expect(r.sessions.touch(i), `touch(${i})`).toBe(m.touch(i));
    }),
  subscribe: (i: string) =>
    command(`subscribe(${i})`, (m, r) => {
      const expected = m.subscribe(i);
      if ('code' in expected) refused(expected.code);
      const messages: SessionMessage[] = [];
      let off: () => void = () => {};
      let thrown: string | undefined;
      try {
        off = r.sessions.subscribe(i, (msg) => messages.push(msg));
      } catch (err) {
        thrown = codeOf(err);
      }
      if ('code' in expected) {
        expect(thrown, `subscribe(${i}) throws`).toBe(expected.code);
      } else {
        expect(thrown, `subscribe(${i}) throws`).toBeUndefined();
        r.subs.push({ messages, off });
      }
    }),
  unsubscribe: (k: number) =>
    command(`unsubscribe(#${k} of the subscribers, modulo their number)`, (m, r) => {
      if (r.subs.length === 0) return;
      const index = k % r.subs.length;
      m.unsubscribe(index);
      r.subs[index]!.off();
    }),
  rename: (from: string, to: string) =>
    command(`rename(${from} → ${to})`, async (m, r) => {
      const expected = m.rename(from, to);
      refused(expected);
      expect(await outcomeOf(r.sessions.rename(from, to)), `rename(${from} → ${to})`).toBe(
        expected,
      );
    }),
  tick: (ms: number) =>
    command(`tick(${ms} ms)`, (m, _r) => {
      m.advance(ms);
      vi.advanceTimersByTime(ms);
    }),
};

const start = id.map(cmd.start);
const call = fc.tuple(id, event).map(([i, e]) => cmd.call(i, e));
const cast = fc.tuple(id, event).map(([i, e]) => cmd.cast(i, e));
const terminate = id.map(cmd.terminate);
const touch = id.map(cmd.touch);
const subscribe = id.map(cmd.subscribe);
const unsubscribe = fc.nat(15).map(cmd.unsubscribe);
const rename = fc.tuple(id, id).map(([from, to]) => cmd.rename(from, to));
// Mostly short steps, so sessions live long enough to be used; sometimes exactly a deadline.
const tick = fc
  .oneof(
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 400 }) },
    { weight: 1, arbitrary: fc.constantFrom(1, 699, 700, 999, 1_000, 2_000) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 2_500 }) },
  )
  .map(cmd.tick);

/** Every command, weighted so that sessions exist most of the time. */
export const commands = fc.commands(
  [
    start,
    start,
    start,
    call,
    call,
    call,
    cast,
    cast,
    terminate,
    touch,
    subscribe,
    subscribe,
    unsubscribe,
    rename,
    tick,
    tick,
  ],
  { maxCommands: 40, size: 'max' },
);
