import { createSessionTestModel } from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { assign, createMachine, fromPromise } from 'xstate';

const quiet = { print: false } as const;

/**
 * An upload: `progress` updates the context without leaving `uploading`, whose upload runs as
 * an invocation and which times out after 30 s; a heartbeat every 10 s counts as activity.
 * The mutant handles `progress` by entering `uploading` again, which restarts both.
 */
function uploadMachine(reenter: boolean) {
  return createMachine({
    types: {} as { context: { percent: number; beats: number } },
    id: 'upload',
    context: { percent: 0, beats: 0 },
    initial: 'idle',
    states: {
      idle: { on: { start: 'uploading' } },
      uploading: {
        invoke: { id: 'send', src: fromPromise(async () => 'sent') },
        after: {
          10000: { actions: assign({ beats: ({ context }) => Math.min(context.beats + 1, 1) }) },
          30000: 'failed',
        },
        on: {
          progress: {
            ...(reenter ? { target: 'uploading', reenter: true } : {}),
            actions: assign({ percent: 50 }),
          },
        },
      },
      failed: { on: { start: 'uploading' } },
    },
  });
}
const events = [{ type: 'start' }, { type: 'progress' }];

describe('entry, exit and re-entry', () => {
  const model = createSessionTestModel(uploadMachine(false), { events });

  it('passes on the right machine', async () => {
    const report = await model.run(quiet);
    expect(report.failures).toEqual([]);
  });

  it('catches a transition that enters its state again: the invocation restarts', async () => {
    const report = await model.run({ ...quiet, implementation: uploadMachine(true) });
    const failure = report.failures.find(
      (f) => f.path.map((e) => e.type).join() === 'start,progress',
    );
    expect(failure?.expected).toBe('invocations running: send#1');
    expect(failure?.actual).toBe('invocations running: send#2');
  });

  it('catches it through the timers when nothing else shows it', async () => {
    // Without the invocation, the re-entered state still re-arms its delays: after the 10 s
    // heartbeat, the timeout is due in 20 s on the right machine, in 30 s on the mutant.
    const strip = (m: ReturnType<typeof uploadMachine>) =>
      createMachine({
        ...m.config,
        states: {
          ...m.config.states,
          uploading: { ...m.config.states?.uploading, invoke: [] },
        },
      } as never);
    const plain = createSessionTestModel(strip(uploadMachine(false)), { events });
    const report = await plain.run({ ...quiet, implementation: strip(uploadMachine(true)) });
    const failure = report.failures.find(
      (f) =>
        f.path.map((e) => e.type).join() === 'start,xstate.after.10000.upload.uploading,progress',
    );
    expect(failure?.expected).toBe('delayed events pending, due in: 20000 ms');
    expect(failure?.actual).toBe('delayed events pending, due in: 10000 ms, 30000 ms');
  });
});
