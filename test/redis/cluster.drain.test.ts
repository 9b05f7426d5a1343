import { afterEach, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { reply } from 'session-process';
import { eventually, redisAvailable, TestCluster } from './clusterHelpers.js';

const available = await redisAvailable('the cluster drain-race tests');

/** Blocks the event loop, as CPU starvation does. */
function stall(until: number): void {
  while (performance.now() < until) {
    // busy
  }
}

/** Carts: `add` answers at once; `hold` is taken and answered never (a call that waits). */
const cartMachine = setup({
  types: {
    context: {} as { items: string[] },
    events: {} as { type: 'add'; item: string } | { type: 'hold' },
  },
}).createMachine({
  context: { items: [] },
  on: {
    add: {
      actions: [
        assign({ items: ({ context, event }) => [...context.items, event.item] }),
        reply(({ context }) => context.items.length),
      ],
    },
    hold: { actions: () => {} },
  },
});

describe.skipIf(!available)('a draining node, as owner', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  it('brings back no session that its drain took out of memory while a routed call waited between its checks and the step', async () => {
    // The owner checked its lease for a routed call and awaited (here the `beforeStep` pause; in
    // the loaded rolling run, a retry's applied-ID lookup, then the restore of the session still
    // in memory): its drain took the session out of memory meanwhile, the token still held (the
    // drain still ran). The step then went to the core, whose call loads a session that is not in
    // memory; the record's answer was read after the drain had given the session up, so the copy
    // left at once (no token) and the caller got SESSION_NOT_FOUND (before d3fbba5) or, after it,
    // `moved`, the session brought into memory on the leaving node all the same.
    cluster = new TestCluster();
    const c = cluster; // for the hooks
    let armed = false;
    let loadArmed = false;
    /** Whether the drain was still running (y still here) when x had left memory at the pause. */
    let drainPendingAtStep: boolean | undefined;
    let reached: () => void = () => {};
    const atStep = new Promise<void>((r) => {
      reached = r;
    });
    const resident = (id: string) => owner.sessions.list().some((row) => row.id === id);
    const owner = c.node('c', {
      leaseMs: 1_500,
      supervisor: { logic: cartMachine },
      testHooks: {
        beforeStep: async (id, op) => {
          if (!armed || id !== 'x' || op !== 'call') return;
          armed = false;
          reached();
          while (resident('x')) await new Promise((r) => setTimeout(r, 1));
          drainPendingAtStep = resident('y');
          loadArmed = true;
          // Resumed from an I/O callback (a Redis reply), as the retry's lookup resumes.
          await c.admin.ping();
        },
        afterLoadSent: (id) => {
          if (!loadArmed || id !== 'x') return;
          loadArmed = false;
          // The step went to the core with x out of memory, which loads it. y's call is over
          // now (y ends) and the event loop stands still a little (CPU starvation): the drain's
          // next look (every 5 ms) comes before the record's answer is read, and gives x up.
          void owner.sessions.terminate('y');
          stall(performance.now() + 25);
        },
      },
    });
    const other = c.node('a', { leaseMs: 1_500, supervisor: { logic: cartMachine } });
    await eventually(() => other.sessions.stats().cluster.nodes.length === 2, 5_000);
    await owner.sessions.start('x');
    await owner.sessions.start('y');
    expect(await other.sessions.call('x', { type: 'add', item: 'p' })).toBe(1); // owner: c
    // y keeps a call waiting (up to 1 s): the drain waits for it.
    const held = owner.sessions.call('y', { type: 'hold' }, { timeoutMs: 1_000 }).catch(() => {});
    const activated: string[] = [];
    owner.sessions.on('start', (e) => activated.push(e.sessionId));

    armed = true;
    const added = other.sessions.call('x', { type: 'add', item: 'q' });
    await atStep;
    const drained = owner.sessions.drain({ timeoutMs: 5_000 });
    await expect(added).resolves.toBe(2);
    await drained;
    await held;
    // The window was open: x had left memory with the drain still running (its token held).
    expect(drainPendingAtStep).toBe(true);
    expect(activated.filter((id) => id === 'x')).toEqual([]); // nothing brought back on c
    await owner.sessions.shutdown();
    expect((await other.sessions.read('x')).context.items).toEqual(['p', 'q']);
  });
});
