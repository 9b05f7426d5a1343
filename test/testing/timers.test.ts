import { createSessionTestModel } from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';

const quiet = { print: false } as const;

/** A watch: a backlight that goes off after 2 s, and an alarm that rings 10 s after arming. */
const watchMachine = setup({
  delays: { backlightMs: 2_000, alarmMs: 10_000 },
}).createMachine({
  id: 'watch',
  type: 'parallel',
  states: {
    light: {
      initial: 'off',
      states: { off: { on: { press: 'on' } }, on: { after: { backlightMs: 'off' } } },
    },
    alarm: {
      initial: 'idle',
      states: {
        idle: { on: { arm: 'armed' } },
        armed: { after: { alarmMs: 'ringing' }, on: { disarm: 'idle' } },
        ringing: { on: { stop: 'idle' } },
      },
    },
  },
});
const events = [{ type: 'press' }, { type: 'arm' }, { type: 'disarm' }, { type: 'stop' }];
const alarmFires = 'xstate.after.alarmMs.watch.alarm.armed';
const lightGoesOff = 'xstate.after.backlightMs.watch.light.on';

describe('delayed transitions in parallel regions', () => {
  it('takes a delayed transition only when it is the earliest due, so the right machine passes', async () => {
    const model = createSessionTestModel(watchMachine, { events });
    const report = await model.run(quiet);
    expect(report.failures).toEqual([]);
    // The alarm (10 s) never fires while the backlight's 2 s, pressed after arming, still run.
    const titles = model.getPaths().map((p) => p.title);
    expect(titles.filter((t) => t.startsWith(`arm › press › ${alarmFires}`))).toEqual([]);
    expect(titles.filter((t) => t.startsWith(`press › arm › ${alarmFires}`))).toEqual([]);
    expect(titles.some((t) => t.startsWith(`press › arm › ${lightGoesOff} › ${alarmFires}`))).toBe(
      true,
    );
  });

  it('fires delays due at the same time in the order they were armed', async () => {
    const same = watchMachine.provide({ delays: { alarmMs: 2_000 } });
    const model = createSessionTestModel(same, { events });
    const titles = model.getPaths().map((p) => p.title);
    // Armed first, fired first: the alarm armed before the light is pressed rings first.
    expect(titles.some((t) => t.startsWith(`arm › press › ${alarmFires} › ${lightGoesOff}`))).toBe(
      true,
    );
    expect(titles.some((t) => t.startsWith(`arm › press › ${lightGoesOff}`))).toBe(false);
    expect((await model.run(quiet)).failures).toEqual([]);
  });

  it('catches a delay of the wrong length in one region', async () => {
    const model = createSessionTestModel(watchMachine, { events });
    const implementation = watchMachine.provide({ delays: { backlightMs: 3_000 } });
    const report = await model.run({ ...quiet, implementation });
    const failure = report.failures.find(
      (f) => f.title === `press › ${lightGoesOff} ⇒ light.off | alarm.idle`,
    );
    expect(failure?.step).toBe(1);
    expect(failure?.expected).toBe('delayed events pending, due in: 2000 ms');
    expect(failure?.actual).toBe('delayed events pending, due in: 3000 ms');
  });
});
