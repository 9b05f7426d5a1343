import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import {
  encodeMessage,
  isLiveEvent,
  parseClientMessage,
  parseServerMessage,
} from 'session-process/live';
import { describe, expect, it } from 'vitest';

describe('parseClientMessage', () => {
  it('accepts a send and a call', () => {
    expect(parseClientMessage('{"type":"send","event":{"type":"cart.add","sku":"A1"}}')).toEqual({
      ok: true,
      message: { type: 'send', event: { type: 'cart.add', sku: 'A1' } },
    });
    expect(
      parseClientMessage('{"type":"call","ref":"1","event":{"type":"cart.get"},"timeoutMs":500}'),
    ).toEqual({
      ok: true,
      message: { type: 'call', ref: '1', event: { type: 'cart.get' }, timeoutMs: 500 },
    });
  });

  it('refuses what is not a message with BAD_MESSAGE, keeping a usable ref', () => {
    for (const frame of [
      '',
      'x',
      '1',
      '"s"',
      '[]',
      '{}',
      '{"type":"send","event":[]}',
      '{"type":"call","ref":"","event":{"type":"a"}}',
    ]) {
      expect(parseClientMessage(frame)).toMatchObject({ ok: false, code: 'BAD_MESSAGE' });
    }
    expect(parseClientMessage('{"type":"call","ref":"r","event":{}}')).toMatchObject({
      ok: false,
      ref: 'r',
    });
    expect(
      parseClientMessage(`{"type":"call","ref":"${'r'.repeat(65)}","event":{"type":"a"}}`),
    ).toMatchObject({
      ok: false,
    });
  });
});

describe('parseServerMessage', () => {
  it('reads every server message back from encodeMessage', () => {
    const messages = [
      { type: 'snapshot', version: 3, value: { cart: 'active' }, view: { items: [] } },
      { type: 'reply', ref: '7', value: 42 },
      { type: 'error', code: 'EVENT_NOT_ALLOWED', message: 'no', ref: '8' },
      { type: 'ended', reason: 'rotated' },
    ] as const;
    for (const m of messages)
      expect(parseServerMessage(encodeMessage(m))).toEqual({ ok: true, message: m });
  });

  it('refuses unknown types and end reasons', () => {
    expect(parseServerMessage('{"type":"ended","reason":"bored"}').ok).toBe(false);
    expect(parseServerMessage('{"type":"hello"}').ok).toBe(false);
  });
});

describe('isLiveEvent', () => {
  it('wants an object with a non-empty string type', () => {
    expect(isLiveEvent({ type: 'a' })).toBe(true);
    expect(isLiveEvent({ type: '' })).toBe(false);
    expect(isLiveEvent(null)).toBe(false);
    expect(isLiveEvent({ type: 'x'.repeat(129) })).toBe(false);
  });
});

describe('session-process/client', () => {
  it('bundles for the browser with nothing from Node', async () => {
    const out = await build({
      entryPoints: [fileURLToPath(new URL('../../src/client/index.ts', import.meta.url))],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(out.metafile.inputs);
    expect(inputs.sort()).toEqual([
      'src/client/connectLive.ts',
      'src/client/index.ts',
      'src/live/protocol.ts',
    ]);
  });
});
