import type { AnyMachineSnapshot, AnyStateMachine } from 'xstate';
import { createSessionSupervisor, type SupervisorOptions } from '../index.js';
import {
  type CoverageContext,
  checkCoverage,
  computeCoverage,
  formatCoverage,
  Reached,
  resolveMinCoverage,
} from './coverage.js';
import { executePath, type PathContext } from './executePath.js';
import { InvocationController } from './InvocationController.js';
import { analyzeMachine, type MachineGraph } from './machineGraph.js';
import { type Plan, type PlannedPath, planPaths } from './planPaths.js';
import { createSupervisorDriver } from './supervisorDriver.js';
import { TestClock } from './TestClock.js';
import type {
  PathStrategy,
  RunOptions,
  SessionDriver,
  SessionTestModelOptions,
  TestFailure,
  TestPath,
  TestReport,
  VitestApi,
} from './types.js';

/** A model of a session machine that generates paths and runs them against real sessions. */
export interface SessionTestModel {
  /** The machine the paths are generated from. */
  readonly logic: AnyStateMachine;
  /**
   * The clock delayed events run on. The runner gives it to the supervisors it creates; give it
   * to yours (`clock: model.clock`) when you pass a supervisor instance or build one in `drive`.
   */
  readonly clock: TestClock;
  /**
   * `logic` (or `implementation`) with its invoked actors under the runner's control: what a
   * supervisor you create yourself must run for paths through done and error events.
   */
  implementation(logic?: AnyStateMachine): AnyStateMachine;
  /** The paths of a strategy (titles and events), without running them. */
  getPaths(strategy?: PathStrategy): TestPath[];
  /**
   * Runs every path of the strategy against real sessions, checking the state after each step.
   * Paths run one after the other; runs of one model must not overlap.
   */
  run(options?: RunOptions): Promise<TestReport>;
  /**
   * Registers a vitest suite with one test per path (titled with the path's events and final
   * state), then one more test, `covers every state and transition`, that prints the coverage
   * and fails when it is below `minCoverage` (100 % by default; the title then says the
   * minimum), naming what was not reached.
   * Call it at the top level of a test file.
   */
  describe(title?: string, options?: RunOptions & { vitest?: VitestApi }): void;
}

interface OpenedDriver {
  driver: SessionDriver;
  close(): Promise<void>;
}

/**
 * Creates a model-based test for a session machine. Paths come from a traversal of the
 * machine's configurations (state value and context, history memory, pending delays, running
 * invocations) computed with XState's pure transitions, and run through a real supervisor's
 * `start`, `cast`, `call` and `snapshot`; a run fails unless every path passes and every state
 * and transition is reached (`minCoverage` accepts less). See docs/testing.md. Delayed events
 * run on a simulated clock, each when it is the earliest due, and invoked actors (named or
 * inline) are settled by the path itself (the `output` or `error` of its done and error events),
 * so every path is deterministic and runs without waiting.
 *
 * @example
 * ```ts
 * import { expect, it } from 'vitest';
 * import { createSessionTestModel } from 'session-process/testing';
 * import { counterMachine } from './machines/counter.js';
 *
 * const model = createSessionTestModel(counterMachine, {
 *   events: [{ type: 'add_one' }, { type: 'get_value' }],
 *   calls: ['get_value'],
 *   // The count grows without bound: keep it out of the key, compare it after every step.
 *   serializeState: ({ value }) => JSON.stringify(value),
 *   compareContext: (context) => context.count,
 * });
 *
 * it('passes every path and reaches every state and transition', async () => {
 *   const report = await model.run();
 *   expect(report.failures).toEqual([]);
 * });
 * ```
 */
export function createSessionTestModel(
  logic: AnyStateMachine,
  options: SessionTestModelOptions,
): SessionTestModel {
  const graph: MachineGraph = analyzeMachine(logic);
  const name = options.name ?? logic.id;
  const clock = new TestClock();
  const controller = new InvocationController();
  const planned = new Map<string, Plan>();
  let running = false;

  const planOf = (strategy: PathStrategy, seed = options.seed): Plan => {
    const key = `${strategy} ${seed ?? ''}`;
    let plan = planned.get(key);
    if (!plan) {
      plan = planPaths(graph, options, strategy, seed);
      planned.set(key, plan);
    }
    return plan;
  };

  const implementation = (impl: AnyStateMachine = logic) =>
    controller.provide(impl, analyzeMachine(impl).invokedSources);

  const open = async (run: RunOptions): Promise<OpenedDriver> => {
    const impl = implementation(run.implementation);
    const supervisorOptions: SupervisorOptions = {
      // Idle expiry and the start rate would interfere with simulated time and many short sessions.
      idleTimeoutMs: 0,
      startRate: false,
      ...run.sessionOptions,
      logic: impl,
      clock,
    };
    if (run.drive) {
      const driver = await run.drive({
        logic: impl,
        clock,
        supervisorOptions,
        input: options.input,
      });
      return { driver, close: async () => void (await driver.close?.()) };
    }
    if (run.supervisor && typeof run.supervisor !== 'function') {
      return { driver: createSupervisorDriver(run.supervisor), close: async () => {} };
    }
    const sessions = run.supervisor
      ? await run.supervisor(supervisorOptions)
      : createSessionSupervisor(supervisorOptions);
    return { driver: createSupervisorDriver(sessions), close: () => sessions.shutdown() };
  };

  const expectedKeys = new WeakMap<AnyMachineSnapshot, string>();
  const contextFor = (
    driver: SessionDriver,
    reached: Reached,
    seed: number | undefined,
  ): PathContext => ({
    seed,
    name,
    graph,
    options,
    driver,
    reached,
    expectedKeys,
    clock,
    controller,
  });

  const printer = (print: RunOptions['print']) =>
    print === false
      ? undefined
      : typeof print === 'function'
        ? print
        : (text: string) => console.log(text);

  const select = (run: RunOptions): { plan: Plan; paths: PlannedPath[]; dropped: number } => {
    const plan = planOf(run.paths ?? 'transitions', run.seed ?? options.seed);
    const max = run.maxPaths ?? Number.POSITIVE_INFINITY;
    const paths = plan.paths.slice(0, max);
    return { plan, paths, dropped: plan.paths.length - paths.length };
  };

  const coverageContext = (
    run: RunOptions,
    plan: Plan,
    failedPaths: number,
    pathsNotRun: number,
  ): CoverageContext => ({
    graph,
    strategy: run.paths ?? 'transitions',
    planned: plan,
    events: typeof options.events === 'function' ? undefined : options.events,
    failedPaths,
    pathsNotRun,
  });

  const minimum = (run: RunOptions) =>
    resolveMinCoverage(run.minCoverage, run.coverage, options.minCoverage);

  const notRunNote = (notRun: number) =>
    notRun ? ` (${notRun} more paths not run: maxPaths, maxFailures)` : '';

  return {
    logic,
    clock,
    implementation,

    getPaths(strategy = 'transitions') {
      return planOf(strategy).paths.map(({ title, events }) => ({ title, events }));
    },

    async run(run = {}) {
      if (running) throw new Error(`${name}: a run of this model is already in progress`);
      running = true;
      try {
        const { plan, paths, dropped } = select(run);
        const opened = await open(run);
        const failures: TestFailure[] = [];
        const reached = new Reached(graph);
        const context = contextFor(opened.driver, reached, run.seed ?? options.seed);
        const results: TestReport['paths'] = [];
        try {
          for (const path of paths) {
            if (failures.length >= (run.maxFailures ?? Number.POSITIVE_INFINITY)) break;
            const outcome = await executePath(context, path);
            if (outcome.failure) failures.push(outcome.failure);
            results.push({ title: path.title, events: path.events, ok: !outcome.failure });
          }
        } finally {
          await opened.close();
        }
        const coverage = computeCoverage(graph, reached.states, reached.transitions);
        const pathsNotRun = dropped + paths.length - results.length;
        const failed = results.filter((r) => !r.ok).length;
        const below = checkCoverage(
          name,
          coverage,
          minimum(run),
          coverageContext(run, plan, failed, pathsNotRun),
        );
        if (below) failures.push(below);
        printer(run.print)?.(
          formatCoverage(name, coverage, results.length, failed) + notRunNote(pathsNotRun),
        );
        return { failures, coverage, paths: results, pathsNotRun };
      } finally {
        running = false;
      }
    },

    describe(title, describeOptions = {}) {
      const vitest = resolveVitest(describeOptions.vitest);
      const { plan, paths, dropped } = select(describeOptions);
      const strategy = describeOptions.paths ?? 'transitions';
      const reached = new Reached(graph);
      let opened: Promise<OpenedDriver> | undefined;
      let failed = 0;
      let ran = 0;
      vitest.describe(title ?? `${name} (model-based, ${strategy})`, () => {
        for (const path of paths) {
          vitest.it(path.title, async () => {
            opened ??= open(describeOptions);
            ran++;
            const outcome = await executePath(
              contextFor((await opened).driver, reached, describeOptions.seed ?? options.seed),
              path,
            );
            if (outcome.failure) {
              failed++;
              throw new Error(outcome.failure.message);
            }
          });
        }
        // The coverage check is a test of its own, registered after the paths' tests (vitest
        // runs a suite's tests in order), so a run that misses states fails visibly by name.
        const min = minimum(describeOptions);
        const coverageTitle =
          min.states >= 100 && min.transitions >= 100
            ? 'covers every state and transition'
            : `covers at least ${min.states} % of states and ${min.transitions} % of transitions`;
        vitest.it(coverageTitle, async (context) => {
          if (opened) {
            const driver = opened;
            opened = undefined;
            await (await driver).close();
          }
          const print = printer(describeOptions.print);
          if (ran < paths.length) {
            // Some tests were filtered out (`-t`, `.only`): coverage would be low for no fault.
            const note = `${name}: ${ran} of ${paths.length} paths ran; coverage not checked`;
            print?.(`[session-process/testing] ${note}`);
            context?.skip?.(note);
            return;
          }
          const coverage = computeCoverage(graph, reached.states, reached.transitions);
          print?.(formatCoverage(name, coverage, paths.length, failed) + notRunNote(dropped));
          const below = checkCoverage(
            name,
            coverage,
            min,
            coverageContext(describeOptions, plan, failed, dropped),
          );
          if (below) throw new Error(below.message);
        });
        vitest.afterAll?.(async () => {
          if (opened) await (await opened).close();
        });
      });
    },
  };
}

/**
 * The vitest API without importing vitest (this module must load outside vitest too): the one
 * given, vitest's globals when enabled, or the module vitest exposes to its workers as
 * `globalThis.__vitest_index__` (vitest 1–4; pass `{ vitest: { describe, it, afterAll } }` if a
 * later vitest drops it).
 */
function resolveVitest(given: VitestApi | undefined): VitestApi {
  if (given) return given;
  const g = globalThis as Record<string, any>;
  if (typeof g.describe === 'function' && typeof g.it === 'function')
    return g as unknown as VitestApi;
  const index = g.__vitest_index__;
  if (index && typeof index.describe === 'function') return index as VitestApi;
  throw new Error(
    'model.describe() registers vitest tests: call it in a vitest test file, or pass ' +
      "{ vitest: { describe, it, afterAll } } imported from 'vitest'",
  );
}
