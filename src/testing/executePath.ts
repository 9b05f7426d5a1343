import type { AnyMachineSnapshot, EventObject } from 'xstate';
import { isSessionError, messageOf } from '../index.js';
import { formatEvent, formatValue, jsonEqual, stableStringify } from './format.js';
import type { InvocationController } from './InvocationController.js';
import type { Configuration } from './configurations.js';
import type { MachineGraph } from './machineGraph.js';
import { createSeededRandom } from './random.js';
import type { Reached } from './coverage.js';
import { defaultSerializeState, type PlannedPath, type PlannedStep } from './planPaths.js';
import type { TestClock } from './TestClock.js';
import type { ModelState, SessionDriver, SessionTestModelOptions, TestFailure } from './types.js';

/** What running one path needs. @internal */
export interface PathContext {
  name: string;
  graph: MachineGraph;
  options: SessionTestModelOptions;
  driver: SessionDriver;
  clock: TestClock;
  controller: InvocationController;
  /** Where the steps that pass record what they reached (one per run). */
  reached: Reached;
  /** Expected keys of the model's snapshots, computed once per snapshot (one per model). */
  expectedKeys: WeakMap<AnyMachineSnapshot, string>;
  /** The run's seed, printed with failures. */
  seed?: number | undefined;
}

/** @internal */
export interface PathOutcome {
  failure?: TestFailure;
}

interface PendingCall {
  step: number;
  event: EventObject;
  accepted: boolean;
  status: 'pending' | 'fulfilled' | 'rejected' | 'checked';
  value?: unknown;
  error?: unknown;
}

const DONE_PREFIX = 'xstate.done.actor.';
const ERROR_PREFIX = 'xstate.error.actor.';
/** Marks a state the machine reached as a top-level final state (its session has ended). */
const FINAL = ' (final: the session ended)';

const settles = (event: EventObject) =>
  event.type.startsWith(DONE_PREFIX) || event.type.startsWith(ERROR_PREFIX);

/** Lets promise callbacks (a settled invocation, a reply) run before the state is read. */
const macrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

class StepError extends Error {}

const show = (snapshot: AnyMachineSnapshot) =>
  `${formatValue(snapshot.value)}${snapshot.status === 'done' ? ' (final)' : ''}`;

function describeError(error: unknown): string {
  if (isSessionError(error)) return `${error.code}: ${error.message}`;
  return messageOf(error);
}

/** `EVENT_NOT_ACCEPTED` from the core, or an error with that `code` from another driver (a live view's `LiveError`). */
function isRefusal(error: unknown): boolean {
  return (
    isSessionError(error, 'EVENT_NOT_ACCEPTED') ||
    (typeof error === 'object' &&
      error !== null &&
      (error as { code?: unknown }).code === 'EVENT_NOT_ACCEPTED')
  );
}

function isAccepted(step: PlannedStep): boolean {
  return step.transitions.some(
    (t) => (t.target?.length ?? 0) > 0 || t.actions.length > 0 || t.reenter,
  );
}

/** `state` equals `expected` as the default key compares them (value, context, status). */
function sameAsDefault(state: ModelState, expected: AnyMachineSnapshot): boolean {
  const done = state.status === undefined ? expected.status === 'done' : state.status === 'done';
  return (
    done === (expected.status === 'done') &&
    jsonEqual(state.value, expected.value) &&
    jsonEqual(orEmpty(state.context), orEmpty(expected.context))
  );
}

const orEmpty = (context: unknown) => (context === undefined || context === null ? {} : context);

/** Runs one planned path through the driver, checking the state after each step. @internal */
export async function executePath(ctx: PathContext, path: PlannedPath): Promise<PathOutcome> {
  const { driver, options } = ctx;
  const serialize = options.serializeState ?? defaultSerializeState;
  const project = options.compareContext;
  const calls = new Set(options.calls ?? []);
  const settleMs = driver.settleMs ?? 1_000;
  const pending: PendingCall[] = [];
  const lines: string[] = [];

  const fastCompare = options.serializeState === undefined && project === undefined;
  const expectedKey = (snapshot: AnyMachineSnapshot): string => {
    let key = ctx.expectedKeys.get(snapshot);
    if (key === undefined) {
      key = computeExpectedKey(snapshot);
      ctx.expectedKeys.set(snapshot, key);
    }
    return key;
  };
  const computeExpectedKey = (snapshot: AnyMachineSnapshot): string => {
    const base = serialize({ value: snapshot.value, context: snapshot.context });
    const withContext = project
      ? `${base} context ${stableStringify(project(snapshot.context))}`
      : base;
    return snapshot.status === 'done' ? withContext + FINAL : withContext;
  };
  const actualKey = (state: ModelState, expected: AnyMachineSnapshot): string => {
    const base = serialize(state);
    const withContext = project
      ? `${base} context ${'context' in state ? stableStringify(project(state.context)) : '(not reported by the driver)'}`
      : base;
    // A driver that does not report the status is taken at its word about the rest.
    const done = state.status === undefined ? expected.status === 'done' : state.status === 'done';
    return done ? withContext + FINAL : withContext;
  };

  const fail = (step: number, expected: string, actual: string, why: string): TestFailure => {
    const events = path.steps.slice(0, step).map((s) => s.event);
    const want = step === 0 ? path.initial : path.steps[step - 1]?.after;
    const message = [
      `${ctx.name}: path "${path.title}" failed at step ${step} of ${path.steps.length}${why ? `: ${why}` : ''}`,
      `  expected state: ${expected}`,
      `  actual state:   ${actual}`,
      '  path so far:',
      ...lines,
      `    ✗ ${step === 0 ? '0. (start)' : `${step}. ${formatEvent(events[step - 1] ?? { type: '?' })}`} → expected ${want ? show(want) : '?'}`,
      ...(ctx.seed === undefined
        ? []
        : [
            `  seed: ${ctx.seed} (Math.random drew from it; run({ seed: ${ctx.seed} }) replays this path)`,
          ]),
    ].join('\n');
    return { title: path.title, path: events, step, expected, actual, message };
  };

  /** Reads the driver's state until it matches (drivers may need a moment), then compares. */
  const check = async (
    step: number,
    expected: AnyMachineSnapshot,
    why = '',
  ): Promise<TestFailure | undefined> => {
    const want = expectedKey(expected);
    const deadline = Date.now() + settleMs;
    for (;;) {
      let got: string;
      try {
        const state = await driver.state();
        // With the default key, compare the structures: no JSON is written for a state that
        // matches, which is nearly every state of a passing run.
        if (fastCompare && sameAsDefault(state, expected)) return undefined;
        got = actualKey(state, expected);
      } catch (error) {
        return fail(
          step,
          want,
          `(no state: ${describeError(error)})`,
          'the session could not be read',
        );
      }
      if (got === want) return undefined;
      if (Date.now() >= deadline) return fail(step, want, got, why);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  /** Replies that arrived since the last step: rejections fail, values go to `checkReply`. */
  const checkReplies = (step: number, expected: AnyMachineSnapshot): TestFailure | undefined => {
    for (const call of pending) {
      if (call.status === 'rejected') {
        call.status = 'checked';
        // A refused event may be refused at once by `call`: that is the model's answer too.
        if (!call.accepted && isRefusal(call.error)) continue;
        return fail(
          step,
          expectedKey(expected),
          `call rejected: ${describeError(call.error)}`,
          `the call "${formatEvent(call.event)}" (step ${call.step}) was rejected`,
        );
      }
      if (call.status === 'fulfilled') {
        call.status = 'checked';
        try {
          options.checkReply?.({
            event: call.event,
            reply: call.value,
            expected: { value: expected.value, context: expected.context },
          });
        } catch (error) {
          return fail(
            step,
            expectedKey(expected),
            `reply ${stableStringify(call.value)}`,
            `the reply to "${formatEvent(call.event)}" (step ${call.step}) is wrong: ${describeError(error)}`,
          );
        }
      }
    }
    return undefined;
  };

  /**
   * What the snapshot alone does not show of entry, exit and re-entry: the delayed events
   * pending (when each is due) and the invocations running (how often each was started). A
   * state re-entered by mistake restarts both. Timers are compared only when every child is
   * one the runner stands in for (a real child may arm timers of its own on the clock).
   */
  const checkEffects = (
    step: number,
    config: Configuration,
    children: string,
  ): TestFailure | undefined => {
    const running = ctx.controller.describeRunning();
    if (running !== children) {
      return fail(
        step,
        `invocations running: ${children || 'none'}`,
        `invocations running: ${running || 'none'}`,
        'the invocations running differ (#n: how often each was started on the path; a state entered again starts its invocations again)',
      );
    }
    if (config.children.some((c) => c.kind === 'uncontrolled')) return undefined;
    const now = ctx.clock.now();
    const pending = ctx.clock.pendingTimers();
    if (
      pending.length === config.timers.length &&
      pending.every((t, i) => t.due - now === config.timers[i]?.dueInMs)
    )
      return undefined;
    const want = config.timers.map((t) => `${t.dueInMs} ms`).join(', ');
    const got = pending.map((t) => `${t.due - now} ms`).join(', ');
    return fail(
      step,
      `delayed events pending, due in: ${want || 'none'}`,
      `delayed events pending, due in: ${got || 'none'}`,
      'the delayed events pending differ (a state entered again arms its delays again)',
    );
  };

  const originalRandom = Math.random;
  const applySeed = async (seed: number | undefined) => {
    if (seed === undefined) return;
    Math.random = createSeededRandom(seed);
    await driver.seed?.(seed);
  };

  ctx.controller.reset();
  try {
    await applySeed(path.initialSeed);
    await driver.start(options.input);
  } catch (error) {
    const failure = fail(
      0,
      expectedKey(path.initial),
      `(not started: ${describeError(error)})`,
      'the session did not start',
    );
    return { failure };
  }

  try {
    const initialFailure =
      (await check(0, path.initial)) ?? checkEffects(0, path.initialConfig, path.initialChildren);
    if (initialFailure) return { failure: initialFailure };
    ctx.reached.add(path.initial, [path.initial, ...path.initialPassed], path.initialTaken);
    lines.push(`      0. (start) → ${show(path.initial)}`);

    for (const [index, step] of path.steps.entries()) {
      const n = index + 1;
      const { event } = step;
      try {
        await applySeed(step.seed);
        const { kind, child } = step.step;
        if (kind === 'timer') {
          // Time moves to 1 ms before the delayed event is due (nothing may have happened yet),
          // then to when it is due, and that one timer fires: a delay shorter or longer than
          // the model's fails here, and so does one that the clock would not fire first.
          const dueIn = step.step.timer?.dueInMs ?? 0;
          const due = ctx.clock.now() + dueIn;
          if (dueIn >= 1) {
            ctx.clock.advanceTo(due - 1);
            await macrotask();
            const early = await check(
              n,
              step.before,
              `the state changed before the ${dueIn} ms delay had passed`,
            );
            if (early) return { failure: early };
          }
          if (!ctx.clock.fireOne(due)) {
            const armed =
              ctx.clock
                .pendingTimers()
                .map((t) => `${t.due - ctx.clock.now()} ms`)
                .join(', ') || 'none';
            throw new StepError(
              `no delayed event was due ${dueIn} ms after the previous step (pending in: ${armed})`,
            );
          }
        } else if (kind !== 'event' && child !== undefined) {
          const data = event as EventObject & { output?: unknown; error?: unknown };
          const done =
            kind === 'done'
              ? ctx.controller.settle(child, { output: data.output })
              : kind === 'error'
                ? ctx.controller.settle(child, { error: data.error })
                : kind === 'snapshot'
                  ? ctx.controller.next(child, step.step.value)
                  : ctx.controller.sendBack(child, event);
          if (!done) {
            const running = ctx.controller.pendingIds();
            throw new StepError(
              `no invocation "${child}" was running (running: ${running.length ? running.join(', ') : 'none'})`,
            );
          }
        } else {
          const sent = await driver.send(event, { call: calls.has(event.type) });
          if (sent?.reply) {
            const call: PendingCall = {
              step: n,
              event,
              accepted: isAccepted(step),
              status: 'pending',
            };
            pending.push(call);
            sent.reply.then(
              (value) => {
                call.status = 'fulfilled';
                call.value = value;
              },
              (error: unknown) => {
                call.status = 'rejected';
                call.error = error;
              },
            );
          }
        }
      } catch (error) {
        const failure = fail(
          n,
          expectedKey(step.after),
          `(step not executed: ${describeError(error)})`,
          `${formatEvent(event)} could not be executed`,
        );
        return { failure };
      }
      await macrotask();
      const stateFailure =
        (await check(n, step.after)) ?? checkEffects(n, step.config, step.children);
      if (stateFailure) return { failure: stateFailure };
      if (settles(event) && settleMs > 0) {
        // A reply sent when an invocation settles may still be on its way (an HTTP response):
        // wait for it, so `checkReply` sees it with this step's state.
        const deadline = Date.now() + settleMs;
        while (pending.some((c) => c.status === 'pending') && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
      const failure = checkReplies(n, step.after);
      if (failure) return { failure };
      ctx.reached.add(step, [step.after, ...step.passed], step.taken);
      lines.push(`      ${n}. ${formatEvent(event)} → ${show(step.after)}`);
    }
    // Replies that arrived after the last step (calls still waiting end with the session).
    await macrotask();
    const last = path.steps.at(-1);
    const late = last ? checkReplies(path.steps.length, last.after) : undefined;
    return late ? { failure: late } : {};
  } finally {
    Math.random = originalRandom;
    try {
      await driver.stop();
    } catch {
      // The session may already be gone (it crashed, say); the failure above tells why.
    }
  }
}
