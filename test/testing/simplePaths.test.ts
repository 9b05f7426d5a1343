import { createSessionTestModel } from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';

const quiet = { print: false } as const;
const steps = [
  'account',
  'email',
  'password',
  'profile',
  'avatar',
  'address',
  'billing',
  'shipping',
  'payment',
  'terms',
  'newsletter',
  'review',
] as const;

/**
 * A 13-state sign-up wizard: twelve steps with next and back (a few optional steps skipped),
 * then done; with a `sidebar`, any step opens any other.
 */
function wizardMachine(sidebar: boolean) {
  const states: Record<string, object> = {};
  steps.forEach((step, i) => {
    const on: Record<string, string> = {};
    on.next = steps[i + 1] ?? 'done';
    if (i > 0) on.back = steps[i - 1] as string;
    if (step === 'avatar' || step === 'newsletter') on.skip = steps[i + 2] ?? 'done';
    if (sidebar) for (const s of steps) if (s !== step) on[`open.${s}`] = s;
    states[step] = { on };
  });
  states.done = { type: 'final' };
  return createMachine({ id: 'signUp', initial: 'account', states } as never);
}
const events = [
  { type: 'next' },
  { type: 'back' },
  { type: 'skip' },
  ...steps.map((s) => ({ type: `open.${s}` })),
];

describe("paths: 'simple'", () => {
  it('runs every simple path of a 13-state wizard in seconds', async () => {
    const started = performance.now();
    const model = createSessionTestModel(wizardMachine(false), { events });
    const report = await model.run({ ...quiet, paths: 'simple' });
    expect(report.failures).toEqual([]);
    expect(report.paths.length).toBeGreaterThan(13);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('stops at its limit with a clear message when the simple paths explode', () => {
    const started = performance.now();
    const model = createSessionTestModel(wizardMachine(true), { events });
    expect(() => model.getPaths('simple')).toThrow(
      /^signUp: paths: 'simple' stopped at 100000 traversal steps with \d+ simple paths found and more to come \(13 configurations; simple paths grow exponentially with the machine's loops\)\. Use paths: 'transitions' \(every transition, one path each\) or raise `limit`\./,
    );
    expect(performance.now() - started).toBeLessThan(10_000);
    // The same wizard is tested transition by transition at once.
    expect(model.getPaths('transitions').length).toBeGreaterThan(0);
  });
});
