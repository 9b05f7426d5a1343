import fc from 'fast-check';
import type { LiveErrorCode } from 'session-process/live';
import { CLOSE_SESSION_ENDED, REFUSAL_CLOSE_CODES } from 'session-process/live';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import {
  connectWs,
  type FrameRecorder,
  recordFrames,
  startTestServer,
  type TestServer,
} from '../support/index.js';

/**
 * Random frames at a real live bridge (Koa + koa-session + ws on 127.0.0.1): near-miss protocol
 * messages with wrong types, huge and non-finite numbers, long strings, deep nesting, prototype
 * keys and forged call ids; arbitrary JSON and text; binary frames; and, last on a connection,
 * a frame that must close it (invalid UTF-8, or larger than maxPayloadBytes). The server must
 * answer only inside the protocol (every frame it sends parses as one of `snapshot | reply |
 * error | ended` with the documented fields and codes), answer every call exactly once, close
 * only with a documented code, report no internal failure, and keep serving another connection.
 *
 * FUZZ_RUNS=500 npx vitest run test/live/protocol.fuzz.test.ts   (long run)
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
/** The bridge's default `maxPayloadBytes`. */
const MAX_PAYLOAD = 16_384;

/** Every code of the protocol, and whether it may travel on the wire (a compile error when one is added). */
const WIRE_CODES: Record<LiveErrorCode, boolean> = {
  BAD_MESSAGE: true,
  EVENT_NOT_ALLOWED: true,
  INVALID_EVENT: true,
  TOO_MANY_CALLS: true,
  INTERNAL_ERROR: true,
  NOT_CONNECTED: false,
  CONNECTION_LOST: false,
  // Refusals travel as close codes (REFUSAL_CLOSE_CODES), never as error messages.
  UNAUTHORIZED: false,
  FORBIDDEN: false,
  NOT_FOUND: false,
  TOO_MANY_VIEWS: false,
  SESSION_REPLACED: false,
  INVALID_SESSION_ID: true,
  SESSION_ALREADY_STARTED: true,
  SESSION_NOT_FOUND: true,
  SESSION_LIMIT_REACHED: true,
  RATE_LIMITED: true,
  SESSION_INIT_FAILED: true,
  CALL_TIMEOUT: true,
  EVENT_NOT_ACCEPTED: true,
  SESSION_ENDED: true,
  SESSION_CRASHED: true,
  UNKNOWN_LOGIC: true,
  SESSION_RESTORE_FAILED: true,
  STORE_UNAVAILABLE: true,
  SESSION_VERSION_AHEAD: true,
  STORE_CORRUPT: true,
  RECORD_TOO_LARGE: true,
  TOO_MANY_TIMERS: true,
  SESSION_ROTATED: true,
};
const END_REASONS = new Set(['terminated', 'expired', 'crashed', 'shutdown', 'rotated']);
/** Close codes the server may use: going away, bad UTF-8, too big, session ended, refusals. */
const CLOSE_CODES = new Set([
  1001,
  1007,
  1009,
  CLOSE_SESSION_ENDED,
  ...Object.values(REFUSAL_CLOSE_CODES),
]);

/** A frame to send; `ref` is set when it is a well-formed call that must be answered once. */
interface FuzzFrame {
  kind: 'text' | 'binary' | 'bytes-as-text';
  text?: string;
  bytes?: Uint8Array;
  answered?: true;
}

// ---- generators ------------------------------------------------------------------------------

const weirdNumber = fc.constantFrom(
  '1e400',
  '-1e400',
  '9007199254740993',
  '-0',
  '1.7976931348623157e308',
  '5e-324',
  '0',
  '-1',
  '0.5',
  '123456789012345678901234567890',
);
const weirdString = fc.constantFrom(
  '""',
  '"\\u0000"',
  '"\\ud800"',
  '"\\udfff\\ud800"',
  '"__proto__"',
  '"constructor"',
  '"$callId"',
  `"${'x'.repeat(200)}"`,
  '"😀"',
);
const json = fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null');
const anyLiteral = fc.oneof(
  weirdNumber,
  weirdString,
  json,
  fc.constantFrom('null', 'true', '[]', '{}'),
);
const nested = fc.integer({ min: 1, max: 1_900 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`);
const eventType = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('"add_one"', '"get_value"') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('"nope"', '""', `"${'a'.repeat(129)}"`, '"xstate.init"'),
  },
  { weight: 1, arbitrary: anyLiteral },
);
const extraField = fc.tuple(
  fc.constantFrom('"sku"', '"__proto__"', '"$callId"', '"constructor"', '"n"', '"type"'),
  fc.oneof(anyLiteral, nested),
);
const event = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(eventType, fc.array(extraField, { maxLength: 3 }))
      .map(([t, extra]) => `{"type":${t}${extra.map(([k, v]) => `,${k}:${v}`).join('')}}`),
  },
  { weight: 1, arbitrary: anyLiteral },
);
const ref = fc.oneof(
  { weight: 4, arbitrary: fc.constant('"@REF@"') },
  { weight: 1, arbitrary: fc.oneof(anyLiteral, fc.constant(`"${'r'.repeat(65)}"`)) },
);
const timeout = fc.oneof(fc.constantFrom('1', '50', '100000', '"50"'), weirdNumber);
const messageType = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('"send"', '"call"') },
  { weight: 1, arbitrary: fc.constantFrom('"reply"', '"snapshot"', '"ended"', '"CALL"', '""') },
  { weight: 1, arbitrary: anyLiteral },
);

/** A message with the protocol's fields, each one maybe missing or wrong. */
const structured: fc.Arbitrary<FuzzFrame> = fc
  .record({ type: messageType, ref, event, timeoutMs: timeout }, { requiredKeys: ['type'] })
  .map((m) => {
    const fields = Object.entries(m).map(([k, v]) => `"${k}":${v}`);
    const text = `{${fields.join(',')}}`;
    const frame: FuzzFrame = { kind: 'text', text };
    // A call with a usable ref is answered exactly once (reply or error), whatever else is wrong.
    if (m.type === '"call"' && m.ref === '"@REF@"') frame.answered = true;
    return frame;
  });

const frame: fc.Arbitrary<FuzzFrame> = fc.oneof(
  { weight: 12, arbitrary: structured },
  { weight: 2, arbitrary: json.map((text) => ({ kind: 'text' as const, text })) },
  {
    weight: 1,
    arbitrary: fc
      .string({ unit: 'binary', maxLength: 40 })
      .map((text) => ({ kind: 'text' as const, text })),
  },
  {
    weight: 1,
    arbitrary: nested.map((n) => ({
      kind: 'text' as const,
      text: `{"type":"send","event":{"type":"add_one","deep":${n}}}`,
    })),
  },
  {
    weight: 1,
    arbitrary: fc
      .uint8Array({ maxLength: 64 })
      .map((bytes) => ({ kind: 'binary' as const, bytes })),
  },
);

/** A last frame that must close the connection. */
const closer: fc.Arbitrary<FuzzFrame> = fc.oneof(
  fc
    .uint8Array({ minLength: 1, maxLength: 32 })
    .map((b) => ({ kind: 'bytes-as-text' as const, bytes: Uint8Array.from([...b, 0xff, 0xfe]) })),
  fc.integer({ min: MAX_PAYLOAD + 1, max: 4 * MAX_PAYLOAD }).map((n) => ({
    kind: 'text' as const,
    text: `{"type":"send","event":{"type":"add_one","pad":"${'p'.repeat(n)}"}}`,
  })),
);

// ---- checks ----------------------------------------------------------------------------------

/** The frame parses as a documented server message with exactly its documented fields. */
function checkServerFrame(f: FrameRecorder['frames'][number]): any {
  expect(f.binary, 'the server sends text frames only').toBeUndefined();
  const msg = JSON.parse(f.text!);
  expect(typeof msg === 'object' && msg !== null && !Array.isArray(msg), f.text).toBe(true);
  const keys = Object.keys(msg).sort();
  switch (msg.type) {
    case 'snapshot':
      expect(keys, f.text).toEqual(['type', 'value', 'version', 'view']);
      expect(Number.isSafeInteger(msg.version) && msg.version > 0, f.text).toBe(true);
      expect(msg.view, f.text).toEqual({ count: expect.any(Number) });
      break;
    case 'reply':
      expect(keys, f.text).toEqual(['ref', 'type', 'value']);
      expect(typeof msg.ref, f.text).toBe('string');
      break;
    case 'error':
      expect(
        keys.filter((k) => k !== 'ref'),
        f.text,
      ).toEqual(['code', 'message', 'type']);
      expect(WIRE_CODES[msg.code as LiveErrorCode], `${f.text}: a wire code`).toBe(true);
      // Random input is the client's fault: the server never fails on it.
      expect(msg.code, f.text).not.toBe('INTERNAL_ERROR');
      expect(typeof msg.message, f.text).toBe('string');
      if ('ref' in msg) expect(typeof msg.ref, f.text).toBe('string');
      break;
    case 'ended':
      expect(keys, f.text).toEqual(['reason', 'type']);
      expect(END_REASONS.has(msg.reason), f.text).toBe(true);
      break;
    default:
      throw new Error(`a server message outside the protocol: ${f.text}`);
  }
  return msg;
}

function send(ws: WebSocket, f: FuzzFrame): void {
  if (f.kind === 'binary') ws.send(Buffer.from(f.bytes!), { binary: true });
  else if (f.kind === 'bytes-as-text') ws.send(Buffer.from(f.bytes!), { binary: false });
  else ws.send(f.text!);
}

// ---- the suite -------------------------------------------------------------------------------

describe('the live bridge under random frames', () => {
  let t: TestServer;
  let control: WebSocket;
  let controlFrames: FrameRecorder;
  let controlCount = 0;
  const reported: unknown[] = [];
  const totals = { connections: 0, frames: 0, closers: 0, calls: 0 };

  beforeAll(async () => {
    t = await startTestServer({
      scope: 'file',
      live: {
        events: ['add_one', 'get_value'],
        view: (s) => ({ count: s.context.count }),
        callTimeoutMs: 30,
        // A view's calls outlive its socket until they time out: keep that short here.
        maxCallTimeoutMs: 200,
        maxPendingCalls: 4,
        heartbeatMs: 0,
        onError: (err) => reported.push(err),
      },
    });
    const { cookie } = await t.login();
    control = await connectWs(t.wsUrl, { origin: t.origin, cookie });
    controlFrames = recordFrames(control);
  });

  afterAll(() => {
    console.log(
      `live fuzz: ${totals.connections} connections, ${totals.frames} frames (${totals.closers} closing), ${totals.calls} calls answered once each`,
    );
  });

  /** The control connection (another session) still casts and calls normally. */
  async function controlWorks(): Promise<void> {
    const from = controlFrames.frames.length;
    control.send(JSON.stringify({ type: 'send', event: { type: 'add_one' } }));
    controlCount++;
    const ref = `control-${controlCount}`;
    control.send(JSON.stringify({ type: 'call', ref, event: { type: 'get_value' } }));
    await controlFrames.until(
      () => controlFrames.frames.slice(from).some((f) => f.text?.includes(`"${ref}"`)),
      'the control reply',
    );
    const answer = controlFrames.frames
      .slice(from)
      .map(checkServerFrame)
      .find((m) => m.ref === ref);
    expect(answer).toEqual({ type: 'reply', ref, value: controlCount });
  }

  it('answers only inside the protocol, each call once, and keeps serving others', {
    timeout: Math.max(20_000, RUNS * 300),
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(frame, { maxLength: 60, size: 'max' }),
        fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: closer }),
        async (frames, last) => {
          const { cookie } = await t.login();
          const ws = await connectWs(t.wsUrl, { origin: t.origin, cookie });
          const rec = recordFrames(ws);
          totals.connections++;
          const refs: string[] = [];
          for (const f of [...frames, ...(last ? [last] : [])]) {
            const sent = { ...f };
            if (f.text?.includes('@REF@')) {
              const r = `r${refs.length}`;
              sent.text = f.text.replaceAll('@REF@', r);
              if (f.answered) refs.push(r);
            }
            send(ws, sent);
            totals.frames++;
          }
          if (last) {
            totals.closers++;
            const closed = await rec.whenClosed();
            expect(CLOSE_CODES.has(closed.code), `close code ${closed.code}`).toBe(true);
            expect(closed.code, 'a frame that must close').toBeOneOf([1007, 1009]);
          } else {
            // A last well-formed call: once it is answered, every frame before it was handled.
            ws.send(
              JSON.stringify({ type: 'call', ref: 'sentinel', event: { type: 'get_value' } }),
            );
            refs.push('sentinel');
            const answered = () =>
              refs.every((r) => rec.frames.some((f) => f.text?.includes(`"ref":"${r}"`)));
            await rec.until(() => answered() || rec.closed !== undefined, 'every call answered');
            expect(rec.closed, 'only a closing frame closes the connection').toBeUndefined();
          }
          const messages = rec.frames.map(checkServerFrame);
          // The connection starts with a snapshot, and versions never go back.
          expect(messages[0]?.type).toBe('snapshot');
          const versions = messages.filter((m) => m.type === 'snapshot').map((m) => m.version);
          expect(versions).toEqual([...versions].sort((a, b) => a - b));
          if (!last) {
            for (const r of refs) {
              const answers = messages.filter((m) => m.ref === r);
              expect(answers.length, `answers to call ${r}`).toBe(1);
            }
            totals.calls += refs.length;
          }
          ws.terminate();
          expect(reported, 'failures the bridge reported').toEqual([]);
          expect(
            ({} as Record<string, unknown>).polluted,
            'Object.prototype untouched',
          ).toBeUndefined();
          await controlWorks();
        },
      ),
      { numRuns: RUNS },
    );
    // Nothing left behind: the fuzzed connections are gone, only the control view remains.
    await expect.poll(() => t.live!.clients).toBe(1);
    await expect.poll(() => t.sessions.stats().pendingCalls, { timeout: 3_000 }).toBe(0);
  });
});
