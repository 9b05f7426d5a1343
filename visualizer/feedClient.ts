import type { ClientMessage, ServerMessage } from '../src/visualizer/protocol.js';

export interface FeedClient {
  send(msg: ClientMessage): void;
  close(): void;
}

/**
 * Connects to the visualizer feed and reconnects (1 s, then up to 10 s apart) after a drop;
 * `onOpen` runs on every (re)connection so the page can ask again for what it shows.
 */
export function connectFeed(
  url: string,
  handlers: {
    onMessage: (msg: ServerMessage) => void;
    onOpen: () => void;
    onStatus: (status: 'connecting' | 'open' | 'closed', detail?: string) => void;
    /** The upgrade was refused or failed before the feed opened (called on each attempt). */
    onRefused?: () => void;
  },
): FeedClient {
  let ws: WebSocket | undefined;
  let closed = false;
  let delay = 1_000;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const open = () => {
    handlers.onStatus('connecting');
    const socket = new WebSocket(url);
    ws = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      delay = 1_000;
      handlers.onStatus('open');
      handlers.onOpen();
    };
    socket.onmessage = (e) => {
      try {
        handlers.onMessage(JSON.parse(String(e.data)) as ServerMessage);
      } catch (err) {
        console.error('visualizer: bad feed message', err);
      }
    };
    socket.onclose = (e) => {
      if (ws !== socket) return;
      ws = undefined;
      handlers.onStatus('closed', e.code === 1006 ? 'disconnected' : `closed (${e.code})`);
      if (closed) return;
      if (!opened) handlers.onRefused?.();
      timer = setTimeout(open, delay);
      delay = Math.min(delay * 2, 10_000);
    };
  };
  open();

  return {
    send(msg) {
      if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      ws?.close();
    },
  };
}
