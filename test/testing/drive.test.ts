import { createSessionSupervisor } from 'session-process';
import {
  createSessionTestModel,
  createSupervisorDriver,
  type SessionDriver,
  TestClock,
} from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { cartMachine } from '../../machines/cart.js';
import { cartModelOptions } from '../../machines/cart.model.js';

describe('drive', () => {
  it('runs the paths through a driver whose effects show up later (settleMs)', async () => {
    const model = createSessionTestModel(cartMachine, cartModelOptions);
    const report = await model.run({
      print: false,
      drive: ({ supervisorOptions }) => {
        const sessions = createSessionSupervisor(supervisorOptions);
        const inner = createSupervisorDriver(sessions);
        // Every event reaches the session 5 ms after it was sent, like a queue between processes.
        const driver: SessionDriver = {
          settleMs: 1_000,
          start: (input) => inner.start(input),
          send(event, options) {
            const delivered = new Promise((resolve) => setTimeout(resolve, 5)).then(() =>
              inner.send(event, options),
            );
            if (!options.call) {
              delivered.catch(() => {});
              return undefined;
            }
            return { reply: delivered.then((sent) => sent?.reply) };
          },
          state: () => inner.state(),
          stop: () => inner.stop(),
          close: () => sessions.shutdown(),
        };
        return driver;
      },
    });
    expect(report.failures.map((f) => f.message)).toEqual([]);
    expect(report.coverage.transitions).toMatchObject({ reached: 20, total: 20 });
  });

  it('runs the paths in a supervisor from a factory, given the options it must use', async () => {
    const model = createSessionTestModel(cartMachine, cartModelOptions);
    const seen: Array<Record<string, unknown>> = [];
    const report = await model.run({
      print: false,
      sessionOptions: { callTimeoutMs: 1_000 },
      supervisor: (options) => {
        seen.push({ ...options });
        return createSessionSupervisor(options);
      },
    });
    expect(report.failures).toEqual([]);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      idleTimeoutMs: 0,
      startRate: false,
      callTimeoutMs: 1_000,
      clock: model.clock,
    });
    expect(seen[0]?.logic).not.toBe(cartMachine); // its invoked payment is under the runner's control
  });

  it('runs the paths in a supervisor given as an instance wired to the model', async () => {
    const model = createSessionTestModel(cartMachine, cartModelOptions);
    const sessions = createSessionSupervisor({
      logic: model.implementation(),
      clock: model.clock,
      idleTimeoutMs: 0,
      startRate: false,
    });
    try {
      const report = await model.run({ supervisor: sessions, print: false });
      expect(report.failures).toEqual([]);
      expect(sessions.count).toBe(0);
    } finally {
      await sessions.shutdown();
    }
  });
});

describe('TestClock', () => {
  it('moves time to the earliest timer armed with a given duration', () => {
    const clock = new TestClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('short'), 1_000);
    clock.setTimeout(() => fired.push('long'), 60_000);
    expect(clock.pendingTimers()).toEqual([
      { due: 1_000, timeoutMs: 1_000 },
      { due: 60_000, timeoutMs: 60_000 },
    ]);
    expect(clock.fireNext(60_000)).toBe(true);
    expect(fired).toEqual(['short', 'long']);
    expect(clock.now()).toBe(60_000);
    expect(clock.fireNext()).toBe(false);
  });

  it('forgets cleared timers', () => {
    const clock = new TestClock();
    const id = clock.setTimeout(() => {
      throw new Error('must not fire');
    }, 10);
    clock.clearTimeout(id);
    expect(clock.pending).toBe(0);
    clock.advance(100);
    expect(clock.now()).toBe(100);
  });
});
