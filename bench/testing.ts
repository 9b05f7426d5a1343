/**
 * bench/testing: model-based runs of session-process/testing at scale, timed.
 *
 *   npm run build && node dist/bench/testing.js
 *
 * Plain `node` loads XState's production build. Each machine's 'transitions' plan is planned
 * (traversal, replay) and then run path by path through a fresh in-process supervisor, every
 * step checked against the model; the table shows wall time and CPU time (CPU time is what to
 * compare on a shared machine). The target from issue 12, about 1,200 distinct states and 2,500
 * paths in under 10 s, is checked at the end (here, not in a timed test).
 */
import { createSessionTestModel, type SessionTestModelOptions } from 'session-process/testing';
import type { AnyStateMachine } from 'xstate';
import { getAdjacencyMap } from 'xstate/graph';
import { cartMachine } from '../machines/cart.js';
import { cartModelOptions } from '../machines/cart.model.js';
import { studioEvents, studioMachine } from './studioMachine.js';

interface Row {
  machine: string;
  states: number;
  paths: number;
  steps: number;
  planMs: number;
  runMs: number;
  cpuMs: number;
  failures: number;
}

async function measure(
  name: string,
  machine: AnyStateMachine,
  options: SessionTestModelOptions,
): Promise<Row> {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const model = createSessionTestModel(machine, options);
  const paths = model.getPaths();
  const planned = performance.now();
  const report = await model.run({ print: false });
  const done = performance.now();
  const used = process.cpuUsage(cpu);
  const serialize = options.serializeState;
  const states = Object.keys(
    getAdjacencyMap(machine, {
      input: options.input,
      events: Array.isArray(options.events) ? options.events : [],
      ...(serialize
        ? { serializeState: (s: { value: unknown; context: unknown }) => serialize(s) }
        : {}),
    } as never),
  ).length;
  return {
    machine: name,
    states,
    paths: report.paths.length,
    steps: paths.reduce((n, p) => n + p.events.length, 0),
    planMs: planned - wall,
    runMs: done - planned,
    cpuMs: (used.user + used.system) / 1_000,
    failures: report.failures.length,
  };
}

const rows: Row[] = [];
rows.push(await measure('cart (machines/cart.ts)', cartMachine, cartModelOptions));
rows.push(
  await measure('studio (bench/studioMachine.ts)', studioMachine, { events: studioEvents }),
);

const cells = (r: Row) => [
  r.machine,
  r.states.toLocaleString('en'),
  r.paths.toLocaleString('en'),
  r.steps.toLocaleString('en'),
  `${(r.planMs / 1_000).toFixed(2)} s`,
  `${(r.runMs / 1_000).toFixed(2)} s`,
  `${((r.planMs + r.runMs) / 1_000).toFixed(2)} s`,
  `${(r.cpuMs / 1_000).toFixed(2)} s`,
  String(r.failures),
];
console.log(
  '| machine | states (model key) | paths | steps | plan | run | total | CPU | failures |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const row of rows) console.log(`| ${cells(row).join(' | ')} |`);

const studio = rows[1] as Row;
const totalS = (studio.planMs + studio.runMs) / 1_000;
const ok = studio.states >= 1_200 && studio.paths >= 2_500 && totalS < 10 && studio.failures === 0;
console.log(
  `\ntarget (issue 12): >= 1,200 states and >= 2,500 paths, all run, in < 10 s: ${ok ? 'met' : 'NOT met'} (${totalS.toFixed(2)} s)`,
);
process.exitCode = ok ? 0 : 1;
