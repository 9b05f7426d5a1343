import { assign, setup } from 'xstate';
import { machineVersions, type MigratableSnapshot } from 'session-process';

/**
 * bench fixture "desk": a help-desk ticket of 48 states in two versions, for `verifyMigrations`'
 * timing. Two parallel regions: `ticket` (an 8-step form with a shallow history state, left for
 * `paused` and resumed through the history; a 20-step details chain; an agent's triage, work
 * and review, with a retry bounded by the context's `attempts` (0 to 3) and an escalation
 * timer) and `sla` (two chained timers and a reset). Version 2 renames two steps, folds the last
 * details step into the one before, and doubles the escalation delay (the migration rewrites
 * that timer).
 */
const STEPS = 8;
const DETAILS = 20;

function desk(version: '1' | '2') {
  const names = Array.from({ length: STEPS }, (_, i) => stepName(version, i));
  const steps: Record<string, object> = {};
  for (let i = 0; i < STEPS; i++) {
    const on: Record<string, string> = {};
    on.next = i + 1 < STEPS ? names[i + 1]! : '#desk.ticket.details';
    if (i > 0) on.back = names[i - 1]!;
    steps[names[i]!] = { on };
  }
  const detailCount = version === '1' ? DETAILS : DETAILS - 1;
  const details: Record<string, object> = {};
  for (let i = 0; i < detailCount; i++)
    details[`d${i + 1}`] = {
      on: { next: i + 1 < detailCount ? `d${i + 2}` : '#desk.ticket.triage' },
    };
  const escalateMs = version === '1' ? 60_000 : 120_000;
  return setup({
    types: { context: {} as { attempts: number } },
    guards: { canRetry: ({ context }) => context.attempts < 3 },
  }).createMachine({
    id: 'desk',
    version,
    type: 'parallel',
    context: { attempts: 0 },
    states: {
      ticket: {
        initial: 'flow',
        states: {
          flow: {
            initial: names[0]!,
            on: { pause: 'paused' },
            states: { ...steps, hist: { type: 'history' } },
          },
          paused: { on: { resume: 'flow.hist' } },
          details: { initial: 'd1', states: details },
          triage: { on: { work: 'working' } },
          working: {
            initial: 'a',
            states: {
              a: { on: { step: 'b' } },
              b: { on: { step: 'c' } },
              c: { on: { done: '#desk.ticket.review' } },
            },
          },
          review: {
            on: {
              reject: {
                guard: 'canRetry',
                target: 'working',
                actions: assign({ attempts: ({ context }) => context.attempts + 1 }),
              },
              escalate: 'escalated',
              close: 'closed',
            },
          },
          escalated: { after: { [escalateMs]: 'triage' } },
          closed: {},
        },
      },
      sla: {
        initial: 'ok',
        states: {
          ok: { after: { 5000: 'warn' } },
          warn: { after: { 10000: 'breach' }, on: { reset: 'ok' } },
          breach: { on: { reset: 'ok' } },
        },
      },
    },
  });
}

function stepName(version: '1' | '2', i: number): string {
  if (version === '2' && i === 3) return 'contact';
  if (version === '2' && i === 7) return 'payment';
  return `s${i + 1}`;
}

const renames: Record<string, string> = { s4: 'contact', s8: 'payment' };
const rename = (id: string) => id.replace(/\.(s\d+)$/, (_m, s: string) => `.${renames[s] ?? s}`);

export const deskV1 = desk('1');
export const deskV2 = desk('2');

/** The versions of the desk with their migration. */
export const deskVersions = machineVersions([deskV1, deskV2], {
  migrations: {
    '1': (snapshot: MigratableSnapshot): MigratableSnapshot => {
      const value = structuredClone(snapshot.value);
      const ticket = value.ticket;
      if (typeof ticket?.flow === 'string') ticket.flow = renames[ticket.flow] ?? ticket.flow;
      // The last details step was folded into the one before.
      if (ticket?.details === `d${DETAILS}`) ticket.details = `d${DETAILS - 1}`;
      const historyValue: Record<string, Array<{ id: string }>> = {};
      for (const [key, entries] of Object.entries(snapshot.historyValue ?? {}))
        historyValue[key] = entries.map((e) => ({ id: rename(e.id) }));
      const timers = (snapshot.timers ?? []).map((t) => {
        if (t.id !== 'xstate.after.60000.desk.ticket.escalated') return t;
        const id = 'xstate.after.120000.desk.ticket.escalated';
        return { ...t, id, event: { type: id } };
      });
      return { ...snapshot, value, historyValue, timers };
    },
  },
});

/** The events of the desk. */
export const deskEvents = [
  'next',
  'back',
  'pause',
  'resume',
  'reset',
  'work',
  'step',
  'done',
  'reject',
  'escalate',
  'close',
].map((type) => ({ type }));
