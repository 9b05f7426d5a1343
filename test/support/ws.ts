import { WebSocket } from 'ws';

const open = new Set<WebSocket>();

/** @internal Terminates every socket {@link connectWs} opened (the kit calls it after each test). */
export function closeOpenSockets(): void {
  for (const ws of open) ws.terminate();
  open.clear();
}

/**
 * A `ws` client with these request headers, recording from its first frame (see
 * {@link recordFrames}); resolves once open, rejects with the HTTP status of a refused upgrade.
 * Terminated by the kit after the test.
 *
 * @example
 * ```ts
 * const ws = await connectWs(t.wsUrl, { origin: t.origin, cookie });
 * const frames = recordFrames(ws);
 * ```
 */
export function connectWs(
  url: string,
  headers: Record<string, string>,
  options: ConstructorParameters<typeof WebSocket>[2] = {},
): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers, ...options });
  open.add(ws);
  ws.once('close', () => open.delete(ws));
  // The first snapshot can arrive in the same tick as 'open': record from the start.
  recordFrames(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      ws.terminate();
      reject(
        Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode }),
      );
    });
    ws.once('error', reject);
  });
}

/** The HTTP status an upgrade got: 101 when accepted (the socket is then closed at once). */
export function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return connectWs(url, headers).then(
    (ws) => {
      ws.terminate();
      return 101;
    },
    (err: { status?: number }) => err.status ?? 0,
  );
}

/** One frame as it arrived: text frames as strings (undecoded JSON), binary ones as Buffers. */
export interface Frame {
  text: string | undefined;
  binary: Buffer | undefined;
}

/** Every frame a socket received and how it closed, recorded from the time it was made. */
export interface FrameRecorder {
  readonly frames: Frame[];
  /**
   * The text frames parsed as JSON, in order (a frame that is not JSON is kept as
   * `{ unparsed: text }`, so a test about the protocol sees it rather than a thrown listener).
   */
  readonly messages: any[];
  readonly closed: { code: number; reason: string } | undefined;
  /** Resolves once `ok()` holds (checked after each frame and at close). */
  until(ok: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Resolves with the first message (index `from` on) that `match` accepts. */
  next(match?: (m: any) => boolean, from?: number, timeoutMs?: number): Promise<any>;
  whenClosed(timeoutMs?: number): Promise<{ code: number; reason: string }>;
}

const recorders = new WeakMap<WebSocket, FrameRecorder>();

/**
 * The recorder of a socket (made by {@link connectWs}, or from now on). Frames are kept raw, so a
 * test can check that each one parses.
 */
export function recordFrames(ws: WebSocket): FrameRecorder {
  let rec = recorders.get(ws);
  if (rec) return rec;
  const frames: Frame[] = [];
  const messages: any[] = [];
  const waiters = new Set<() => void>();
  let closed: { code: number; reason: string } | undefined;
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  ws.on('message', (data, isBinary) => {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (isBinary) frames.push({ text: undefined, binary: buf });
    else {
      const text = buf.toString('utf8');
      frames.push({ text, binary: undefined });
      try {
        messages.push(JSON.parse(text));
      } catch {
        messages.push({ unparsed: text });
      }
    }
    wake();
  });
  ws.on('close', (code, reason) => {
    closed = { code, reason: String(reason) };
    wake();
  });
  ws.on('error', () => {});
  const until = (ok: () => boolean, what: string, timeoutMs = 3_000) =>
    new Promise<void>((resolve, reject) => {
      if (ok()) return resolve();
      const check = () => {
        if (!ok()) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      waiters.add(check);
    });
  rec = {
    frames,
    messages,
    get closed() {
      return closed;
    },
    until,
    async next(match = () => true, from = 0, timeoutMs = 3_000) {
      let found: any;
      await until(
        () => {
          found = messages.slice(from).find(match);
          return found !== undefined;
        },
        'a matching message',
        timeoutMs,
      );
      return found;
    },
    whenClosed: (timeoutMs) =>
      until(() => closed !== undefined, 'the close', timeoutMs).then(() => closed!),
  };
  recorders.set(ws, rec);
  return rec;
}

/**
 * How a client speaking a subprotocol (as `connectLive` does, offering `session-process.v1`)
 * learns of a refused upgrade: the handshake completes and the socket closes at once with this
 * code and reason. Rejects if the refusal came over HTTP instead, or if any message arrived.
 */
export function refusalClose(
  url: string,
  headers: Record<string, string>,
  protocols: string[] = ['session-process.v1'],
): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers });
    open.add(ws);
    let messages = 0;
    ws.on('message', () => messages++);
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      ws.terminate();
      reject(new Error(`refused over HTTP (${res.statusCode}), not with a close code`));
    });
    ws.on('close', (code, reason) => {
      open.delete(ws);
      if (messages > 0) reject(new Error(`a refused view got ${messages} messages`));
      else resolve({ code, reason: String(reason) });
    });
    ws.on('error', () => {});
  });
}
