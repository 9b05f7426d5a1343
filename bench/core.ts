/**
 * bench/core: the session runtime against raw XState and against the BEAM (the Elixir original's
 * own mechanism), on this machine, in one run.
 *
 *   npm run bench     (npm run build && node --expose-gc dist/bench/core.js)
 *
 * Plain `node` loads XState's production build. Every figure is printed beside the one it is
 * compared with and each target of issue 9 is checked here: the exit code is 0 when all hold,
 * else 1 with the names of those that miss. docs/performance.md explains each measure.
 *
 * Environment: BENCH_SESSIONS (100,000), BENCH_CALLS (calls per round, 100,000), BENCH_CASTS
 * (casts per round, 300,000), BENCH_ROUNDS (3), BENCH_STORM (20,000), BENCH_BEAM=0 skips the BEAM.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { type AnyActorRef, assign, createActor, emit, setup } from 'xstate';
import { createSessionSupervisor, reply } from 'session-process';
import { counterMachine } from '../machines/counter.js';

const N = Number(process.env.BENCH_SESSIONS ?? 100_000);
const CALLS = Number(process.env.BENCH_CALLS ?? 100_000);
const CASTS = Number(process.env.BENCH_CASTS ?? 300_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const STORM = Number(process.env.BENCH_STORM ?? 20_000);
const SPREAD = Math.min(1_000, N);
const IN_FLIGHT = Math.min(1_000, N);

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with --expose-gc: node --expose-gc dist/bench/core.js');
  process.exit(2);
}
const load = loadavg();
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const xstateVersion = (
  JSON.parse(
    readFileSync(new URL('../../node_modules/xstate/package.json', import.meta.url), 'utf8'),
  ) as {
    version: string;
  }
).version;

// ---- the machines -----------------------------------------------------------------------------

const getValue = { type: 'get_value' } as const;
const addOne = { type: 'add_one' } as const;

/**
 * The raw ceiling of a call on XState: the counter, but `get_value` emits its value, and the
 * caller resolves one promise per send from one `actor.on` listener. No correlation, no timeout,
 * no registry lookup: the fastest a request/reply can be on an XState actor.
 */
const emittingCounter = setup({
  types: {
    context: {} as { count: number },
    events: {} as { type: 'get_value' } | { type: 'add_one' },
    emitted: {} as { type: 'value'; value: number },
  },
}).createMachine({
  context: { count: 0 },
  on: {
    get_value: {
      actions: emit(({ context }) => ({ type: 'value' as const, value: context.count })),
    },
    add_one: { actions: assign({ count: ({ context }) => context.count + 1 }) },
  },
});

function rawCaller(actor: AnyActorRef): () => Promise<number> {
  let resolve: (value: number) => void = () => {};
  actor.on('value', (e: { value: number }) => resolve(e.value));
  return () =>
    new Promise<number>((r) => {
      resolve = r;
      actor.send(getValue);
    });
}

/**
 * The cart's case (machines/cart.ts, a reserved cart): every session holds one pending `after`
 * timer of 10 minutes, the reservation, and still answers calls.
 */
const reservedCounter = setup({
  types: {
    context: {} as { count: number },
    events: {} as { type: 'get_value' } | { type: 'add_one' },
  },
  delays: { reservation: 600_000 },
}).createMachine({
  context: { count: 0 },
  initial: 'reserved',
  states: {
    reserved: { after: { reservation: 'released' } },
    released: {},
  },
  on: {
    get_value: { actions: reply(({ context }) => context.count) },
    add_one: { actions: assign({ count: ({ context }) => context.count + 1 }) },
  },
});

// ---- measuring --------------------------------------------------------------------------------

function heap(): number {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage().heapUsed;
}

const now = () => performance.now();
const perSec = (count: number, ms: number) => (count / ms) * 1_000;

/** Rate of `count` operations done by `fn` (sync or async). */
async function rate(count: number, fn: () => unknown): Promise<number> {
  const t0 = now();
  await fn();
  return perSec(count, now() - t0);
}

/**
 * Best of `ROUNDS` rounds for each side, the two sides alternating within every round, so that
 * load from other processes on this machine falls on both alike.
 */
async function duel(count: number, a: () => unknown, b: () => unknown): Promise<[number, number]> {
  let bestA = 0;
  let bestB = 0;
  for (let r = 0; r < ROUNDS; r++) {
    bestA = Math.max(bestA, await rate(count, a));
    bestB = Math.max(bestB, await rate(count, b));
  }
  return [bestA, bestB];
}

async function best(count: number, fn: () => unknown): Promise<number> {
  let top = 0;
  for (let r = 0; r < ROUNDS; r++) top = Math.max(top, await rate(count, fn));
  return top;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;

// ---- the BEAM reference -----------------------------------------------------------------------

interface Beam {
  otp: string;
  elixir: string;
  schedulers: number;
  start: number;
  memory_per_session: number;
  ets_per_session: number;
  total_per_session: number;
  memory_back_pct: number;
  cast: number;
  call_one: number;
  call_1000: number;
  call_all: number;
  in_flight: number;
  terminate: number;
  start_timer: number;
  terminate_timer: number;
  storm: { sessions: number; calls: number; p50_ms: number; p99_ms: number; max_ms: number };
}

/** Runs bench/beam_sessions.exs first, alone, so that it and our side never share the CPUs. */
function runBeam(): { beam?: Beam; why?: string } {
  if (process.env.BENCH_BEAM === '0') return { why: 'BENCH_BEAM=0' };
  const out = spawnSync(
    'elixir',
    ['bench/beam_sessions.exs', String(N), String(CALLS), String(CASTS), String(STORM)],
    { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 },
  );
  if (out.error) {
    const code = (out.error as NodeJS.ErrnoException).code;
    return {
      why:
        code === 'ENOENT'
          ? 'elixir is not installed (Debian: apt-get install elixir erlang-base)'
          : String(out.error),
    };
  }
  if (out.status !== 0)
    return { why: `elixir exited ${out.status}: ${out.stderr.trim().slice(-500)}` };
  const line = out.stdout.trim().split('\n').pop() ?? '';
  try {
    return { beam: JSON.parse(line) as Beam };
  } catch {
    return { why: `unreadable output: ${line.slice(0, 200)}` };
  }
}

const t0All = now();
process.stderr.write('BEAM reference (elixir bench/beam_sessions.exs) ...\n');
const { beam, why: beamMissing } = runBeam();
if (beamMissing) process.stderr.write(`BEAM reference skipped: ${beamMissing}\n`);

// ---- warm-up ----------------------------------------------------------------------------------

{
  const warm = createSessionSupervisor({ logic: counterMachine, startRate: false });
  const warmTimers = createSessionSupervisor({ logic: reservedCounter, startRate: false });
  const ceiling = rawCaller(createActor(emittingCounter).start());
  for (let i = 0; i < 5_000; i++) {
    await warm.start(`w${i}`);
    await warmTimers.start(`w${i}`);
    warm.cast(`w${i}`, addOne);
    await warm.call(`w${i}`, getValue);
    await warmTimers.call(`w${i}`, getValue);
    await ceiling();
    const a = createActor(counterMachine).start();
    a.send(addOne);
    a.stop();
    createActor(reservedCounter).start().stop();
  }
  for (let i = 0; i < 5_000; i++) {
    await warm.terminate(`w${i}`);
    await warmTimers.terminate(`w${i}`);
  }
  await warm.shutdown();
  await warmTimers.shutdown();
  // The expiry path too, so the storm does not time the JIT.
  const warmExpiry = createSessionSupervisor({
    logic: reservedCounter,
    startRate: false,
    idleTimeoutMs: 50,
  });
  for (let i = 0; i < 5_000; i++) await warmExpiry.start(`w${i}`);
  while (warmExpiry.count > 0) await new Promise((r) => setTimeout(r, 20));
  await warmExpiry.shutdown();
}

const ids = Array.from({ length: N }, (_, i) => `session-${i}`);

// ---- start, heap, cast ------------------------------------------------------------------------
process.stderr.write('start, heap, cast ...\n');

// The bench's own arrays exist before the baseline, so that they are not counted as ours.
const raw: AnyActorRef[] = new Array(N).fill(undefined);
const base = heap();
const sessions = createSessionSupervisor({
  logic: counterMachine,
  startRate: false,
  maxSessions: N + 1,
  idleTimeoutMs: 0,
});
// Start in alternating chunks of raw actors and sessions, so both see the same load and heap;
// each side's figure is its best chunk (as the other measures are best of rounds).
let rawStart = 0;
let start = 0;
const CHUNK = Math.max(1, Math.floor(N / 10));
for (let from = 0; from < N; from += CHUNK) {
  const to = Math.min(N, from + CHUNK);
  rawStart = Math.max(
    rawStart,
    await rate(to - from, () => {
      for (let i = from; i < to; i++) raw[i] = createActor(counterMachine, { id: ids[i]! }).start();
    }),
  );
  start = Math.max(
    start,
    await rate(to - from, async () => {
      for (let i = from; i < to; i++) await sessions.start(ids[i]!);
    }),
  );
}

const [rawCast, cast] = await duel(
  CASTS,
  () => {
    for (let i = 0; i < CASTS; i++) raw[i % N]!.send(addOne);
  },
  () => {
    for (let i = 0; i < CASTS; i++) sessions.cast(ids[i % N]!, addOne);
  },
);

const heapBoth = heap();
for (let i = 0; i < N; i++) raw[i]!.stop();
raw.fill(undefined as never);
const heapOurs = heap();
const heapPer = (heapOurs - base) / N;
const rawHeapPer = (heapBoth - heapOurs) / N;

// ---- calls ------------------------------------------------------------------------------------
process.stderr.write('calls ...\n');

const ceilings = Array.from({ length: SPREAD }, () =>
  rawCaller(createActor(emittingCounter).start()),
);
let one = ceilings[0]!;
const target = ids[N >> 1]!;

const [rawCallOne, callOne] = await duel(
  CALLS,
  async () => {
    for (let i = 0; i < CALLS; i++) await one();
  },
  async () => {
    for (let i = 0; i < CALLS; i++) await sessions.call(target, getValue);
  },
);
const [rawCall1000, call1000] = await duel(
  CALLS,
  async () => {
    for (let i = 0; i < CALLS; i++) await ceilings[i % SPREAD]!();
  },
  async () => {
    for (let i = 0; i < CALLS; i++) await sessions.call(ids[i % SPREAD]!, getValue);
  },
);
// Over all N: the target is the BEAM's figure; the raw ceiling over N actors is shown beside it,
// as what one thread of XState reaches at all. A stride, so consecutive calls skip neighbours.
for (let i = SPREAD; i < N; i++) ceilings.push(rawCaller(createActor(emittingCounter).start()));
const [rawCallAll, callAll] = await duel(
  CALLS,
  async () => {
    for (let i = 0, k = 0; i < CALLS; i++, k = (k + 7_919) % N) await ceilings[k]!();
  },
  async () => {
    for (let i = 0, k = 0; i < CALLS; i++, k = (k + 7_919) % N)
      await sessions.call(ids[k]!, getValue);
  },
);
// 1,000 calls in flight: 1,000 concurrent callers, each calling its own session in a loop (the
// BEAM side does the same with 1,000 processes), so 1,000 calls wait at every moment.
const perCaller = Math.floor(CALLS / IN_FLIGHT);
const inFlight = await best(perCaller * IN_FLIGHT, async () => {
  const callers = new Array(IN_FLIGHT);
  for (let j = 0; j < IN_FLIGHT; j++) {
    const id = ids[j]!;
    callers[j] = (async () => {
      for (let k = 0; k < perCaller; k++) await sessions.call(id, getValue);
    })();
  }
  await Promise.all(callers);
});

// The same 1,000 calls issued together and awaited together (a server answering 1,000 requests
// that arrived in one tick, or `Promise.all` over a fan-out): what concurrency buys a caller.
const [rawInFlightBatch, inFlightBatch] = await duel(
  CALLS,
  async () => {
    const batch = new Array(IN_FLIGHT);
    for (let i = 0; i < CALLS; i += IN_FLIGHT) {
      for (let j = 0; j < IN_FLIGHT; j++) batch[j] = ceilings[j]!();
      await Promise.all(batch);
    }
  },
  async () => {
    const batch = new Array(IN_FLIGHT);
    for (let i = 0; i < CALLS; i += IN_FLIGHT) {
      for (let j = 0; j < IN_FLIGHT; j++) batch[j] = sessions.call(ids[j]!, getValue);
      await Promise.all(batch);
    }
  },
);

ceilings.length = 0;
one = () => Promise.resolve(0);

// ---- terminate --------------------------------------------------------------------------------
process.stderr.write('terminate ...\n');

/**
 * Ends every session in alternating chunks with stopping as many raw actors of the same machine
 * (started beforehand, untimed); each side's figure is its best chunk.
 */
async function terminateDuel(
  supervisor: { terminate(id: string): Promise<void> },
  actors: AnyActorRef[],
): Promise<[number, number]> {
  let rawBest = 0;
  let oursBest = 0;
  for (let from = 0; from < N; from += CHUNK) {
    const to = Math.min(N, from + CHUNK);
    rawBest = Math.max(
      rawBest,
      await rate(to - from, () => {
        for (let i = from; i < to; i++) actors[i]!.stop();
      }),
    );
    oursBest = Math.max(
      oursBest,
      await rate(to - from, async () => {
        for (let i = from; i < to; i++) await supervisor.terminate(ids[i]!);
      }),
    );
  }
  actors.fill(undefined as never);
  return [rawBest, oursBest];
}

for (let i = 0; i < N; i++) raw[i] = createActor(counterMachine, { id: ids[i]! }).start();
const [rawStop, terminate] = await terminateDuel(sessions, raw);
const heapAfter = heap();
const heapDrift = ((heapAfter - base) / base) * 100;
// BENCH_SNAPSHOT=file.heapsnapshot: what is left once every session has ended, to inspect.
if (process.env.BENCH_SNAPSHOT) writeHeapSnapshot(process.env.BENCH_SNAPSHOT);
await sessions.shutdown();

// With a pending `after` timer in every session (the cart's reservation).
const timed = createSessionSupervisor({
  logic: reservedCounter,
  startRate: false,
  maxSessions: N + 1,
  idleTimeoutMs: 0,
});
const startTimer = await rate(N, async () => {
  for (let i = 0; i < N; i++) await timed.start(ids[i]!);
});
for (let i = 0; i < N; i++) raw[i] = createActor(reservedCounter).start();
const [rawStopTimer, terminateTimer] = await terminateDuel(timed, raw);
await timed.shutdown();

// ---- expiry storm -----------------------------------------------------------------------------
process.stderr.write('expiry storm ...\n');

/**
 * STORM sessions, each with a pending reservation timer, idle-expire together: started as fast as
 * they start, then touched in one loop (a few ms), so their deadlines fall within those few ms.
 * Meanwhile requests for another session arrive on a schedule, one per millisecond (open loop,
 * so a frozen event loop delays every request that arrives while it is frozen, not just one); a
 * request's latency runs from its scheduled arrival to its reply. Counted: the requests that
 * arrive from 100 ms before the deadlines until the last storm session has ended.
 */
async function storm(): Promise<{
  p50: number;
  p99: number;
  max: number;
  samples: number;
  ms: number;
  idleTimeoutMs: number;
}> {
  // Long enough that none expires while the others are still starting.
  const idleTimeoutMs = Math.max(1_000, Math.ceil((3 * STORM * 1_000) / startTimer) + 200);
  const s = createSessionSupervisor({
    logic: reservedCounter,
    startRate: false,
    maxSessions: STORM + 1,
    idleTimeoutMs,
  });
  await s.start('caller');
  for (let i = 0; i < STORM; i++) await s.start(`storm-${i}`);
  const touched = now();
  for (let i = 0; i < STORM; i++) s.touch(`storm-${i}`);
  s.touch('caller');
  const deadline = touched + idleTimeoutMs;
  const samples: number[] = [];
  let next = deadline - 100;
  await new Promise((r) => setTimeout(r, Math.max(0, next - now())));
  const giveUp = now() + idleTimeoutMs + 30_000;
  let pending = 0;
  while ((s.count > 1 || pending > 0) && now() < giveUp) {
    await new Promise<void>((r) => setImmediate(r));
    for (const t = now(); next <= t; next += 1) {
      const arrival = next;
      pending++;
      s.call('caller', getValue).then(() => {
        samples.push(now() - arrival);
        pending--;
      });
    }
  }
  const left = s.count - 1;
  const ms = now() - (deadline - 100);
  await s.shutdown();
  if (left > 0) throw new Error(`expiry storm: ${left} sessions still running after 30 s`);
  samples.sort((a, b) => a - b);
  return {
    p50: percentile(samples, 0.5),
    p99: percentile(samples, 0.99),
    max: samples.at(-1) ?? Number.NaN,
    samples: samples.length,
    ms,
    idleTimeoutMs,
  };
}
const stormResult = await storm();

// ---- the table --------------------------------------------------------------------------------

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '—';

interface Row {
  measure: string;
  ours: string;
  versus: string;
  ratio: string;
  target: string;
  met: boolean | undefined;
  beam: string;
}
const rows: Row[] = [];
function row(r: {
  measure: string;
  ours: number;
  unit: string;
  versus?: { label: string; value: number } | undefined;
  target: string;
  met: boolean | undefined;
  beam?: number | undefined;
  digits?: number;
}): void {
  const d = r.digits ?? 0;
  rows.push({
    measure: r.measure,
    ours: `${fmt(r.ours, d)} ${r.unit}`,
    versus: r.versus ? `${fmt(r.versus.value, d)} ${r.unit} (${r.versus.label})` : '—',
    ratio: r.versus ? `${(r.ours / r.versus.value).toFixed(2)}x` : '—',
    target: r.target,
    met: r.met,
    beam: r.beam === undefined ? '—' : `${fmt(r.beam, d)} ${r.unit}`,
  });
}

row({
  measure: `start ${fmt(N)} sessions`,
  ours: start,
  unit: '/s',
  versus: { label: 'raw `createActor(...).start()`', value: rawStart },
  target: '≥ 0.9x raw',
  met: start >= 0.9 * rawStart,
  beam: beam?.start,
});
row({
  measure: 'heap per idle session',
  ours: heapPer,
  unit: 'B',
  versus: { label: 'raw actor', value: rawHeapPer },
  target: '≤ 2,560 B',
  met: heapPer <= 2_560,
  beam: beam?.memory_per_session,
});
row({
  measure: `cast, over all ${fmt(N)} sessions`,
  ours: cast,
  unit: '/s',
  versus: { label: 'raw `actor.send`', value: rawCast },
  target: '≥ 0.9x raw',
  met: cast >= 0.9 * rawCast,
  beam: beam?.cast,
});
row({
  measure: 'call, sequential awaited, one session',
  ours: callOne,
  unit: '/s',
  versus: { label: 'raw ceiling', value: rawCallOne },
  target: '≥ 0.75x raw ceiling',
  met: callOne >= 0.75 * rawCallOne,
  beam: beam?.call_one,
});
row({
  measure: `call, sequential awaited, spread over ${fmt(SPREAD)} sessions`,
  ours: call1000,
  unit: '/s',
  versus: { label: 'raw ceiling', value: rawCall1000 },
  target: '≥ 0.75x raw ceiling',
  met: call1000 >= 0.75 * rawCall1000,
  beam: beam?.call_1000,
});
row({
  measure: `call, sequential awaited, spread over all ${fmt(N)} sessions`,
  ours: callAll,
  unit: '/s',
  versus: beam ? { label: 'BEAM `GenServer.call` via Registry', value: beam.call_all } : undefined,
  target: beam ? '≥ 0.7x BEAM' : '≥ 0.7x BEAM (not checked: no BEAM)',
  met: beam ? callAll >= 0.7 * beam.call_all : undefined,
  beam: beam?.call_all,
});
row({
  measure: `(reference) the raw ceiling over all ${fmt(N)} actors`,
  ours: callAll,
  unit: '/s',
  versus: { label: 'raw ceiling', value: rawCallAll },
  target: 'none: what XState itself reaches',
  met: undefined,
  beam: beam?.call_all,
});
// Concurrency is the one thing that changes: the same 1,000 sessions as the sequential spread.
row({
  measure: `call, ${fmt(IN_FLIGHT)} in flight (issued together, awaited together)`,
  ours: inFlightBatch,
  unit: '/s',
  versus: { label: `our sequential over the same ${fmt(SPREAD)} sessions`, value: call1000 },
  target: '≥ 1.2x sequential',
  met: inFlightBatch >= 1.2 * call1000,
  beam: beam?.in_flight,
});
row({
  measure: `(reference) the raw ceiling, ${fmt(IN_FLIGHT)} in flight, against its own sequential`,
  ours: rawInFlightBatch,
  unit: '/s',
  versus: { label: `raw ceiling, sequential over ${fmt(SPREAD)} actors`, value: rawCall1000 },
  target: 'none: what XState and promises reach',
  met: undefined,
  beam: undefined,
});
row({
  measure: `call, ${fmt(IN_FLIGHT)} in flight, against the raw ceiling in flight`,
  ours: inFlightBatch,
  unit: '/s',
  versus: { label: 'raw ceiling, in flight', value: rawInFlightBatch },
  target: 'none',
  met: undefined,
  beam: undefined,
});
row({
  measure: `call, ${fmt(IN_FLIGHT)} concurrent callers, each awaiting its own`,
  ours: inFlight,
  unit: '/s',
  versus: { label: `our sequential over the same ${fmt(SPREAD)} sessions`, value: call1000 },
  target: 'none: 1,000 awaits per 1,000 calls, as sequential',
  met: undefined,
  beam: beam?.in_flight,
});
row({
  measure: `terminate ${fmt(N)} sessions`,
  ours: terminate,
  unit: '/s',
  versus: { label: 'raw `actor.stop()`', value: rawStop },
  target: '≥ 50,000/s',
  met: terminate >= 50_000,
  beam: beam?.terminate,
});
row({
  measure: 'heap after terminating all, vs before starting',
  ours: heapDrift,
  unit: '%',
  target: 'within 5 %',
  met: Math.abs(heapDrift) <= 5,
  beam: beam?.memory_back_pct,
  digits: 1,
});
row({
  measure: `terminate ${fmt(N)} sessions, each with a pending \`after\` timer`,
  ours: terminateTimer,
  unit: '/s',
  versus: { label: 'raw `actor.stop()`', value: rawStopTimer },
  target: '≥ 50,000/s',
  met: terminateTimer >= 50_000,
  beam: beam?.terminate_timer,
});
row({
  measure: `expiry storm: ${fmt(STORM)} sessions with timers expire, a caller's p99`,
  ours: stormResult.p99,
  unit: 'ms',
  target: '< 50 ms',
  met: stormResult.p99 < 50,
  beam: beam?.storm.p99_ms,
  digits: 2,
});

const cpu = cpus();
console.log(
  `\nbench/core: node ${process.version}, xstate ${xstateVersion} (production build), ${fmt(N)} sessions, best of ${ROUNDS} rounds`,
);
console.log(
  `machine: ${cpu[0]?.model ?? 'unknown CPU'} x ${cpu.length}, load average at start ${load.map((l) => l.toFixed(2)).join(' / ')} (1 / 5 / 15 min)`,
);
console.log(
  beam
    ? `BEAM reference: Elixir ${beam.elixir}, OTP ${beam.otp}, ${beam.schedulers} schedulers (DynamicSupervisor + unique Registry + GenServer per session, {:via, Registry, ...})`
    : `BEAM reference: not run (${beamMissing})`,
);
console.log('');
console.log(
  '| measure | session-process | compared with | ratio | target | met | BEAM (same run) |',
);
console.log('| --- | ---: | ---: | ---: | --- | :---: | ---: |');
for (const r of rows)
  console.log(
    `| ${r.measure} | ${r.ours} | ${r.versus} | ${r.ratio} | ${r.target} | ${r.met === undefined ? 'n/a' : r.met ? 'yes' : '**NO**'} | ${r.beam} |`,
  );
console.log('');
console.log(
  `also: start with a timer per session ${fmt(startTimer)}/s (BEAM ${beam ? fmt(beam.start_timer) : '—'}/s); ` +
    `storm p50 ${fmt(stormResult.p50, 2)} ms, max ${fmt(stormResult.max, 1)} ms over ${fmt(stormResult.samples)} requests in ${fmt(stormResult.ms)} ms (idleTimeoutMs ${fmt(stormResult.idleTimeoutMs)})` +
    (beam
      ? ` (BEAM p50 ${fmt(beam.storm.p50_ms, 3)} ms, max ${fmt(beam.storm.max_ms, 1)} ms)`
      : '') +
    (beam
      ? `; BEAM memory per session: processes ${fmt(beam.memory_per_session)} B + ETS ${fmt(beam.ets_per_session)} B`
      : '') +
    `; heap before starting ${fmt(base / 1e6, 1)} MB, after terminating all ${fmt(heapAfter / 1e6, 1)} MB` +
    `; whole run ${fmt((now() - t0All) / 1_000, 1)} s`,
);
const missed = rows.filter((r) => r.met === false).map((r) => r.measure);
console.log(missed.length ? `\nmissed: ${missed.join('; ')}` : '\nall targets met');
process.exitCode = missed.length ? 1 : 0;
