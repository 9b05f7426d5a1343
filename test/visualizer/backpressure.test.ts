import { connect, type Socket } from 'node:net';
import { CLOSE_SLOW_READER, type VisualizerError } from 'session-process/visualizer';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startVizApp, type VizApp } from './helpers.js';

let app: VizApp | undefined;
let socket: Socket | undefined;
afterEach(async () => {
  socket?.destroy();
});

/** A masked (mask key 0) client text frame. */
function frame(text: string): Buffer {
  const payload = Buffer.from(text);
  if (payload.length > 125) throw new Error('keep test frames short');
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

/** Opens the feed over a raw socket, as a client whose reading we control. */
async function openRaw(url: string): Promise<{ s: Socket; rest: Buffer }> {
  const { hostname, port } = new URL(url);
  const s = connect(Number(port), hostname);
  s.write(
    `GET /_sessions/feed HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\n` +
      'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
      'Sec-WebSocket-Version: 13\r\n\r\n',
  );
  const first = await new Promise<Buffer>((resolve, reject) => {
    s.once('data', resolve);
    s.once('error', reject);
  });
  expect(first.toString('latin1')).toMatch(/^HTTP\/1\.1 101/);
  // What came with the response head is the start of the frame stream (the `hello`).
  return { s, rest: first.subarray(first.indexOf('\r\n\r\n') + 4) };
}

/** The close code in the first close frame of a server byte stream (unmasked frames). */
function closeCodeIn(bytes: Buffer): number | undefined {
  let i = 0;
  while (i + 2 <= bytes.length) {
    const opcode = bytes[i]! & 0x0f;
    let len = bytes[i + 1]! & 0x7f;
    let at = i + 2;
    if (len === 126) {
      len = bytes.readUInt16BE(at);
      at += 2;
    } else if (len === 127) {
      len = Number(bytes.readBigUInt64BE(at));
      at += 8;
    }
    if (opcode === 8) return bytes.readUInt16BE(at);
    i = at + len;
  }
  return undefined;
}

describe('backpressure on the feed', () => {
  it('drops a browser that asks for lists without reading them, with close code 4008, and reports it', async () => {
    const maxBufferedBytes = 1 << 20;
    const dropped: VisualizerError[] = [];
    app = await startVizApp({
      maxBufferedBytes,
      maxUnansweredRequests: 50,
      onError: (e) => dropped.push(e),
    });
    // 200 sessions with long IDs: a full list page is about 60 KB.
    for (let i = 0; i < 200; i++) await app.sessions.start(`${'x'.repeat(110)}-${i}`);
    const raw = await openRaw(app.url);
    socket = raw.s;
    const received: Buffer[] = [raw.rest];
    socket.on('data', (d) => received.push(d));
    socket.pause(); // from here on the client reads nothing: the kernel buffers fill up

    const request = frame(JSON.stringify({ type: 'list', offset: 0, limit: 200 }));
    let sent = 0;
    // Without backpressure every request is answered into an unbounded queue (3,000 × 60 KB);
    // with it, the queue stops growing and the browser is dropped long before the loop ends.
    while (sent < 3_000 && dropped.length === 0) {
      for (let i = 0; i < 50; i++) socket.write(request);
      sent += 50;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(dropped, `dropped after ${sent} requests`).toHaveLength(1);
    const drop = dropped[0]!;
    expect(drop).toMatchObject({
      code: 'VISUALIZER_DROPPED',
      reason: 'slow-reader',
      target: 'feed',
    });
    // What was queued for it when it was dropped: under the limit plus one list page at most.
    expect(drop.bufferedBytes).toBeLessThanOrEqual(maxBufferedBytes + 64 * 1024);
    expect(drop.unansweredRequests).toBe(51);
    console.log(`slow reader dropped after ${sent} requests, ${drop.bufferedBytes} bytes queued`);

    // Reading again, the browser gets what was queued, then the close frame with its code.
    const ended = new Promise<void>((resolve) => socket!.once('close', () => resolve()));
    socket.resume();
    await ended;
    expect(closeCodeIn(Buffer.concat(received))).toBe(CLOSE_SLOW_READER);
  });

  it('answers a browser that is behind once it catches up, with the newest page it asked for', async () => {
    app = await startVizApp({ maxBufferedBytes: 1 << 20 });
    for (let i = 0; i < 3; i++) await app.sessions.start(`s-${i}`);
    const feed = await app.feed();
    for (let i = 0; i < 50; i++) feed.send({ type: 'list', offset: i % 3, limit: 1 });
    const last = await feed.next((m) => m.type === 'list' && m.offset === 49 % 3);
    expect(last.rows).toHaveLength(1);
  });
});

describe('heartbeat', () => {
  it('closes a feed that stops answering pings within two heartbeats', async () => {
    // Only the heartbeat's interval is faked: sockets, ws and the app run on real time.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      app = await startVizApp({ heartbeatMs: 30_000, maxConnections: 1, authorize: () => true });
      const raw = await openRaw(app.url);
      socket = raw.s;
      socket.pause(); // reads nothing, so it never answers a ping
      const closed = new Promise<void>((resolve) => socket!.once('close', () => resolve()));
      await expect(app.feed()).rejects.toMatchObject({ status: 503 }); // its place is taken
      vi.advanceTimersByTime(30_000); // a ping
      vi.advanceTimersByTime(30_000); // no pong: terminated
      socket.resume();
      await closed;
      const feed = await app.feed(); // the place is free again
      await feed.next((m) => m.type === 'hello');
    } finally {
      vi.useRealTimers();
    }
  });
});
