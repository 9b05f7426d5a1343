import fc from 'fast-check';
import { parseServerMessage } from 'session-process/live';
import { beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { recordFrames as record } from '../support/index.js';
import { type LiveTestServer, startLiveTestServer } from './liveTestServer.js';

// Random frames at a real bridge: text, JSON of any shape, near-valid messages and binary. The
// bridge must neither crash nor close the view, and everything it answers must be a message of
// the protocol: a snapshot, a reply to a ref that was called, or an error with a known code.

const CODES = new Set([
  'BAD_MESSAGE',
  'EVENT_NOT_ALLOWED',
  'TOO_MANY_CALLS',
  'INTERNAL_ERROR',
  'EVENT_NOT_ACCEPTED',
  'CALL_TIMEOUT',
]);

const event = fc.oneof(
  fc.jsonValue(),
  fc.record(
    {
      type: fc.oneof(
        fc.constantFrom('add_one', 'get_value', 'xstate.stop', 'nothing.here', ''),
        fc.string(),
        fc.integer(),
      ),
      sku: fc.jsonValue(),
      $callId: fc.constantFrom('1', '2', 'x'),
    },
    { requiredKeys: [] },
  ),
);

const message = fc.record(
  {
    type: fc.oneof(fc.constantFrom('send', 'call', 'reply', 'snapshot'), fc.string()),
    ref: fc.oneof(fc.string({ maxLength: 80 }), fc.integer(), fc.constant(null)),
    event,
    timeoutMs: fc.oneof(fc.integer({ min: -10, max: 60 }), fc.double(), fc.string()),
  },
  { requiredKeys: [] },
);

type Frame = { text: string } | { binary: Uint8Array };

const frame: fc.Arbitrary<Frame> = fc.oneof(
  fc.string().map((text) => ({ text })),
  fc.jsonValue().map((v) => ({ text: JSON.stringify(v) ?? 'null' })),
  message.map((m) => ({ text: JSON.stringify(m) })),
  fc.uint8Array({ maxLength: 64 }).map((binary) => ({ binary })),
);

describe('attachLiveBridge under random frames', () => {
  let t: LiveTestServer;
  let ws: WebSocket;
  let rec: ReturnType<typeof record>;
  const calledRefs = new Set<string>();

  beforeAll(async () => {
    t = await startLiveTestServer(
      { maxCallTimeoutMs: 50, events: ['add_one', 'get_value'] },
      {},
      {},
      { scope: 'file' },
    );
    const { cookie } = await t.login();
    ws = await t.connect({ cookie, origin: t.origin });
    rec = record(ws);
    await rec.next((m) => m.type === 'snapshot');
  });

  it('answers only within the protocol and keeps the view open', async () => {
    let sentinel = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { maxLength: 12 }), async (frames) => {
        const start = rec.messages.length;
        for (const f of frames) {
          if ('binary' in f) ws.send(f.binary, { binary: true });
          else {
            ws.send(f.text);
            try {
              const m = JSON.parse(f.text);
              if (m?.type === 'call' && typeof m.ref === 'string') calledRefs.add(m.ref);
            } catch {
              // not JSON: nothing was called
            }
          }
        }
        // Frames are handled in order: once this call is answered, all of them were.
        const ref = `sentinel-${++sentinel}`;
        calledRefs.add(ref);
        const from = rec.messages.length;
        ws.send(JSON.stringify({ type: 'call', ref, event: { type: 'get_value' } }));
        await rec.next((m) => m.ref === ref, from);
        expect(ws.readyState).toBe(WebSocket.OPEN);
        // (A late CALL_TIMEOUT of an earlier run may land here: it is checked all the same.)
        for (const raw of rec.messages.slice(start)) {
          const parsed = parseServerMessage(JSON.stringify(raw));
          expect(parsed.ok).toBe(true);
          if (raw.type === 'reply') expect(calledRefs.has(raw.ref)).toBe(true);
          else if (raw.type === 'error') expect(CODES).toContain(raw.code);
          else expect(raw.type).toBe('snapshot');
        }
      }),
      { numRuns: 100 },
    );
    expect(t.live.clients).toBe(1);
    expect(rec.closed).toBeUndefined();
  });
});
