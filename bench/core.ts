/**
 * bench/core: the session runtime against raw XState on the same machine, in one run.
 *
 *   npm run build && node --expose-gc dist/bench/core.js
 *
 * Plain `node` loads XState's production build. Every figure is printed beside the one it is
 * compared with, and each target from the issue is checked here (not in a timed test).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createActor } from 'xstate';
import { createSessionSupervisor } from 'session-process';
import { counterMachine } from '../machines/counter.js';

const N = Number(process.env.BENCH_SESSIONS ?? 100_000);
const CASTS = Number(process.env.BENCH_CASTS ?? 1_000_000);
const CALLS = Number(process.env.BENCH_CALLS ?? 300_000);

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with --expose-gc: node --expose-gc dist/bench/core.js');
  process.exit(1);
}

function heap(): number {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage().heapUsed;
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

async function timeAsync(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const rows: Array<{
  measure: string;
  ours: string;
  raw: string;
  ratio: string;
  target: string;
  ok: boolean;
}> = [];
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function row(
  measure: string,
  ours: number,
  raw: number | undefined,
  unit: string,
  target: string,
  ok: boolean,
  digits = 0,
) {
  rows.push({
    measure,
    ours: `${fmt(ours, digits)} ${unit}`,
    raw: raw === undefined ? '—' : `${fmt(raw, digits)} ${unit}`,
    ratio: raw === undefined ? '—' : `${(ours / raw).toFixed(2)}x`,
    target,
    ok,
  });
}

const ids = Array.from({ length: N }, (_, i) => `session-${i}`);

// Warm up both paths so the JIT has seen them.
{
  const warm = createSessionSupervisor({ logic: counterMachine, startRate: false });
  for (let i = 0; i < 5_000; i++) {
    await warm.start(`w${i}`);
    warm.cast(`w${i}`, { type: 'add_one' });
    await warm.call(`w${i}`, { type: 'get_value' });
    createActor(counterMachine).start().send({ type: 'add_one' });
  }
  await warm.shutdown();
}

// ---- start: raw createActor(...).start() ----------------------------------------------------
let base = heap();
let raw: any[] = new Array(N);
const rawStartMs = time(() => {
  for (let i = 0; i < N; i++) raw[i] = createActor(counterMachine, { id: ids[i]! }).start();
});
const rawHeapPer = (heap() - base) / N;

// ---- cast: raw actor.send -------------------------------------------------------------------
const addOne = { type: 'add_one' } as const;
const rawCastMs = time(() => {
  for (let i = 0; i < CASTS; i++) raw[i % N].send(addOne);
});
for (const a of raw) a.stop();
raw = [];

// ---- call: Erlang's GenServer.call, the seed's own call, on this machine ----------------------
function genServerCallsPerSec(): number | undefined {
  try {
    const dir = mkdtempSync(join(tmpdir(), 'genserver-'));
    const src = fileURLToPath(new URL('../../bench/genserver_bench.erl', import.meta.url));
    execFileSync('erlc', ['-o', dir, src], { stdio: 'pipe' });
    const out = execFileSync(
      'erl',
      [
        '-noshell',
        '-pa',
        dir,
        '-s',
        'genserver_bench',
        'main',
        String(CALLS),
        '-s',
        'init',
        'stop',
      ],
      {
        encoding: 'utf8',
      },
    );
    return Number(out.trim());
  } catch {
    return undefined; // no Erlang here: the row says so
  }
}
const erlangCallRate = genServerCallsPerSec();

// ---- call: raw send + read (what a call costs without correlation or waiting) ----------------
const one = createActor(counterMachine).start();
const getValue = { type: 'get_value' } as const;
const rawCallMs = await timeAsync(async () => {
  for (let i = 0; i < CALLS; i++) {
    one.send(getValue);
    await Promise.resolve(one.getSnapshot().context.count);
  }
});
one.stop();

// ---- start: ours ---------------------------------------------------------------------------
base = heap();
const sessions = createSessionSupervisor({
  logic: counterMachine,
  startRate: false,
  maxSessions: N,
});
const startMs = await timeAsync(async () => {
  for (let i = 0; i < N; i++) await sessions.start(ids[i]!);
});
const heapPer = (heap() - base) / N;

// ---- cast: ours ----------------------------------------------------------------------------
const castMs = time(() => {
  for (let i = 0; i < CASTS; i++) sessions.cast(ids[i % N]!, addOne);
});

// ---- call: ours, sequential and 1,000 in flight ----------------------------------------------
// Sequential calls go to one session (as a GenServer.call benchmark calls one server), with all
// the other sessions alive around it; calls in flight spread over 1,000 sessions.
const target = ids[N >> 1]!;
const callMs = await timeAsync(async () => {
  for (let i = 0; i < CALLS; i++) await sessions.call(target, getValue);
});
const inFlightMs = await timeAsync(async () => {
  const batch = new Array(1_000);
  for (let i = 0; i < CALLS; i += 1_000) {
    for (let j = 0; j < 1_000; j++) batch[j] = sessions.call(ids[j]!, getValue);
    await Promise.all(batch);
  }
});

// ---- terminate: ours -----------------------------------------------------------------------
const terminateMs = await timeAsync(async () => {
  for (let i = 0; i < N; i++) await sessions.terminate(ids[i]!);
});
const heapAfter = heap();
const heapDrift = (heapAfter - base) / base;

const perSec = (count: number, ms: number) => (count / ms) * 1_000;
const startRate = perSec(N, startMs);
const rawStartRate = perSec(N, rawStartMs);
row(
  `start ${fmt(N)} counter sessions`,
  startRate,
  rawStartRate,
  'sessions/s',
  '≥ 40,000/s and ≥ 0.8x raw',
  startRate >= 40_000 && startRate >= 0.8 * rawStartRate,
);
row('heap per idle session', heapPer, rawHeapPer, 'B', '≤ 2,560 B', heapPer <= 2_560);
const castRate = perSec(CASTS, castMs);
const rawCastRate = perSec(CASTS, rawCastMs);
row(
  `cast (${fmt(CASTS)} events)`,
  castRate,
  rawCastRate,
  'events/s',
  '≥ 0.9x raw actor.send',
  castRate >= 0.9 * rawCastRate,
);
const callRate = perSec(CALLS, callMs);
row(
  'call, sequential, awaited',
  callRate,
  perSec(CALLS, rawCallMs),
  'calls/s',
  '≥ 120,000/s',
  callRate >= 120_000,
);
if (erlangCallRate !== undefined) {
  rows.push({
    measure: 'GenServer.call, sequential (Erlang/OTP, same machine)',
    ours: `${fmt(callRate)} calls/s`,
    raw: `${fmt(erlangCallRate)} calls/s`,
    ratio: `${(callRate / erlangCallRate).toFixed(2)}x`,
    target: 'reference',
    ok: true,
  });
}
const inFlightRate = perSec(CALLS, inFlightMs);
row(
  'call, 1,000 in flight',
  inFlightRate,
  undefined,
  'calls/s',
  '> sequential',
  inFlightRate > callRate,
);
const terminateRate = perSec(N, terminateMs);
row(
  `terminate ${fmt(N)} sessions`,
  terminateRate,
  undefined,
  'sessions/s',
  '≥ 50,000/s',
  terminateRate >= 50_000,
);
row(
  'heap after terminating all, vs before starting',
  heapDrift * 100,
  undefined,
  '%',
  'within 5%',
  Math.abs(heapDrift) <= 0.05,
  1,
);

await sessions.shutdown();

console.log(
  `\nbench/core — node ${process.version}, xstate production build, ${fmt(N)} sessions\n`,
);
console.log('| measure | session-process | raw XState | ratio | target | met |');
console.log('| --- | ---: | ---: | ---: | --- | :---: |');
for (const r of rows)
  console.log(
    `| ${r.measure} | ${r.ours} | ${r.raw} | ${r.ratio} | ${r.target} | ${r.ok ? 'yes' : 'NO'} |`,
  );
const failed = rows.filter((r) => !r.ok).length;
console.log(failed ? `\n${failed} target(s) missed` : '\nall targets met');
process.exitCode = failed ? 1 : 0;
