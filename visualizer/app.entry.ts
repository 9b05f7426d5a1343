/**
 * The visualizer page: the sessions list on the left, the selected session on the right (its
 * statechart, event log, context and, when allowed, a form to send it an event). Everything
 * arrives over the feed WebSocket at `${path}/feed`; the page requests nothing else.
 */
import './styles.css';
import type {
  EventEntry,
  MachineDef,
  ServerMessage,
  StateNodeDef,
} from '../src/visualizer/protocol.js';
import { type ChartView, drawMachine, loadElk } from './chartView.js';
import { renderTree } from './contextTree.js';
import { connectFeed } from './feedClient.js';
import { clockTime, formatStateValue, h, shortId } from './format.js';
import { createSessionList } from './sessionList.js';

const PAGE_SIZE = 50;
const MAX_LOG = 500;

const body = document.body;
const basePath = body.dataset.path ?? '/_sessions';
const allowSend = body.dataset.allowSend === 'true';

// ---- skeleton -------------------------------------------------------------------------------

// `data-status`, not `data-state`: that attribute marks the chart's state nodes only, so that
// `[data-state]` finds them in a page test without a narrower selector.
const status = h('span', { class: 'status', 'data-status': 'connecting' }, 'connecting…');
const total = h('span', { class: 'total', 'data-testid': 'total' }, '–');
/** Why the feed is refused, when it is (the server's explanation, from its 403 page). */
const refusal = h('div', { class: 'refusal', role: 'alert', hidden: '' });
const detailHead = h('div', { class: 'detail-head' });
const zoomFit = h(
  'button',
  { type: 'button', 'aria-pressed': 'true', title: 'fit the chart to the panel' },
  'fit',
);
const zoomActual = h(
  'button',
  { type: 'button', 'aria-pressed': 'false', title: 'actual size' },
  '100%',
);
const flip = h('button', { type: 'button', title: 'lay the chart out the other way' }, '⇄ / ⇅');
const tools = h('span', { class: 'tools' }, zoomFit, zoomActual, flip);
const chartWrap = h(
  'div',
  { class: 'chart-wrap' },
  h('div', { class: 'placeholder' }, 'Select a session to see its statechart.'),
);
const eventList = h('ol', { class: 'events', 'data-testid': 'events' });
const contextBody = h('div', { class: 'body' });
const sendInput = h('input', {
  name: 'event',
  placeholder: '{"type": "cart.add", "sku": "A1"}  or  cart.clear',
  autocomplete: 'off',
  spellcheck: 'false',
});
const sendForm = h('form', { class: 'send' }, sendInput, h('button', { type: 'submit' }, 'send'));
const sendResult = h('div', { class: 'send-result' });
const accepted = h('div', { class: 'send-result' });

const list = createSessionList({
  pageSize: PAGE_SIZE,
  onSelect: (id) => select(id),
  onPage: (o) => feed.send({ type: 'list', offset: o, limit: PAGE_SIZE }),
});

body.append(
  h('header', { class: 'top' }, h('h1', {}, 'Sessions'), total, status),
  refusal,
  h(
    'main',
    { class: 'layout' },
    list.element,
    h(
      'section',
      { class: 'detail' },
      detailHead,
      chartWrap,
      h(
        'div',
        { class: 'panels' },
        h(
          'div',
          { class: 'panel' },
          h('h2', {}, 'Event log'),
          h('div', { class: 'body' }, eventList),
        ),
        h(
          'div',
          { class: 'panel' },
          h('h2', {}, 'Context'),
          contextBody,
          ...(allowSend ? [accepted, sendForm, sendResult] : []),
        ),
      ),
    ),
  ),
);

// ---- state ----------------------------------------------------------------------------------

let offset = 0;
let selected: string | null = new URLSearchParams(location.search).get('session');
let machine: MachineDef | null = null;
let chart: ChartView | null = null;
let drawing = 0;
let zoom: 'fit' | 'actual' = 'fit';
let direction: 'auto' | 'RIGHT' | 'DOWN' = 'auto';
let lastValue: unknown;
/**
 * Whether `lastValue` is the selected session's (a snapshot arrived since it was selected). The
 * chart is drawn only then, so that its first frame already marks the active states: a chart
 * drawn from the machine alone showed a moment with nothing active.
 */
let haveSnapshot = false;
/** A machine arrived before its session's first snapshot: draw when the snapshot comes. */
let drawWhenSnapshot = false;
let lastStatus = '';
let endedReason: string | undefined;
const openPaths = new Set<string>();
list.select(selected);

const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${basePath}/feed`;
const feed = connectFeed(wsUrl, {
  onRefused: () => void explainRefusal(),
  onOpen: () => {
    refusal.hidden = true;
    feed.send({ type: 'list', offset, limit: PAGE_SIZE });
    if (selected) feed.send({ type: 'select', id: selected });
  },
  onStatus: (s, detail) => {
    status.dataset.status = s;
    status.textContent =
      s === 'open' ? 'live' : s === 'connecting' ? 'connecting…' : (detail ?? 'closed');
  },
  onMessage,
});

/**
 * A browser does not show why a WebSocket upgrade was refused (the handshake's response is not
 * readable from a page), so the page asks the feed's URL over plain HTTP: the server answers
 * the same host and authorize checks there, with the explanation and what to configure.
 */
async function explainRefusal(): Promise<void> {
  let text: string;
  let status: number;
  try {
    const res = await fetch(`${basePath}/feed`, { cache: 'no-store' });
    status = res.status;
    text =
      status === 426
        ? 'The live feed was refused: its origin or the number of open feeds (maxConnections); the server reports why to its onError.'
        : (await res.text()).replace(/^Forbidden\s*/, '').trim() || `HTTP ${status}`;
  } catch {
    return; // the server is down: the status already says "disconnected"
  }
  if (status === 403) {
    // Refused for its host or by authorize: trying again changes nothing until the server's
    // configuration does, and every attempt is one more report there.
    feed.close();
    text += '\n\nReload this page once that is changed.';
  }
  refusal.textContent = text;
  refusal.hidden = false;
}

function onMessage(msg: ServerMessage): void {
  switch (msg.type) {
    case 'list':
      offset = msg.offset;
      total.textContent = `${msg.total.toLocaleString('en-US')} session${msg.total === 1 ? '' : 's'}`;
      list.show(msg);
      // The layout engine is big: load it once the list shows, before anyone clicks a session.
      setTimeout(() => void loadElk(), 100);
      return;
    case 'machine':
      if (msg.id !== selected) return;
      machine = msg.machine;
      endedReason = undefined;
      eventList.replaceChildren();
      renderDetailHead(msg.logic);
      if (haveSnapshot || !machine) void redraw();
      else drawWhenSnapshot = true;
      return;
    case 'snapshot':
      if (msg.id !== selected) return;
      lastValue = msg.value;
      lastStatus = msg.status;
      haveSnapshot = true;
      if (drawWhenSnapshot) {
        drawWhenSnapshot = false;
        void redraw();
      }
      chart?.setValue(msg.value);
      revealActive();
      contextBody.replaceChildren(renderTree(msg.context, openPaths));
      renderDetailHead();
      renderAccepted();
      return;
    case 'events':
      if (msg.id !== selected) return;
      for (const e of msg.entries) eventList.prepend(renderEvent(e));
      while (eventList.childElementCount > MAX_LOG) eventList.lastElementChild?.remove();
      return;
    case 'renamed': {
      if (msg.id !== selected) return;
      selected = msg.to;
      list.select(selected);
      const url = new URL(location.href);
      url.searchParams.set('session', msg.to);
      history.replaceState(null, '', url);
      renderDetailHead();
      return;
    }
    case 'ended':
      if (msg.id !== selected) return;
      endedReason = msg.reason;
      renderDetailHead();
      return;
    case 'sent':
      sendResult.className = 'send-result';
      sendResult.textContent = `sent ${msg.eventType}`;
      return;
    case 'error':
      if (msg.id !== undefined && msg.id === selected && msg.code === 'SESSION_NOT_FOUND') {
        endedReason = 'not running';
        machine = null;
        chart = null;
        chartWrap.replaceChildren(
          h('div', { class: 'placeholder' }, `Session ${shortId(msg.id)} is not running.`),
        );
        renderDetailHead();
        return;
      }
      sendResult.className = 'send-result error';
      sendResult.textContent = `${msg.code}: ${msg.message}`;
      return;
    case 'hello':
      return;
  }
}

function select(id: string): void {
  if (id === selected) return;
  selected = id;
  direction = 'auto';
  machine = null;
  chart = null;
  lastValue = undefined;
  haveSnapshot = false;
  drawWhenSnapshot = false;
  endedReason = undefined;
  openPaths.clear();
  eventList.replaceChildren();
  contextBody.replaceChildren();
  sendResult.textContent = '';
  chartWrap.replaceChildren(h('div', { class: 'placeholder' }, 'Loading…'));
  const url = new URL(location.href);
  url.searchParams.set('session', id);
  history.replaceState(null, '', url);
  list.select(id);
  feed.send({ type: 'select', id });
}

// ---- selected session -----------------------------------------------------------------------

let logicName = '';
function renderDetailHead(logic?: string): void {
  if (logic !== undefined) logicName = logic;
  if (!selected) return;
  detailHead.replaceChildren(
    h('span', { class: 'sid', title: selected }, shortId(selected)),
    h('span', { class: 'meta' }, `logic ${logicName || '–'}`),
    h('span', { class: 'meta', 'data-testid': 'state' }, formatStateValue(lastValue)),
    h('span', { class: 'meta' }, lastStatus),
    ...(endedReason ? [h('span', { class: 'ended' }, `ended: ${endedReason}`)] : []),
    tools,
  );
}

const chartBox = () => ({
  width: Math.max(200, chartWrap.clientWidth - 24),
  height: Math.max(150, chartWrap.clientHeight - 24),
});

function applyZoom(): void {
  zoomFit.setAttribute('aria-pressed', String(zoom === 'fit'));
  zoomActual.setAttribute('aria-pressed', String(zoom === 'actual'));
  chart?.setZoom(zoom, chartBox());
}
zoomFit.addEventListener('click', () => {
  zoom = 'fit';
  applyZoom();
});
zoomActual.addEventListener('click', () => {
  zoom = 'actual';
  applyZoom();
});
flip.addEventListener('click', () => {
  direction = chart?.layout.direction === 'DOWN' ? 'RIGHT' : 'DOWN';
  void redraw();
});
window.addEventListener('resize', () => {
  if (zoom === 'fit') applyZoom();
});

async function redraw(): Promise<void> {
  const def = machine;
  const ticket = ++drawing;
  if (!def) {
    chartWrap.replaceChildren(
      h('div', { class: 'placeholder' }, 'This session’s logic is not a state machine.'),
    );
    return;
  }
  try {
    const view = await drawMachine(def, direction, chartBox());
    if (ticket !== drawing) return; // another session was selected meanwhile
    chart = view;
    chart.setValue(lastValue);
    shownActive = new Set();
    chartWrap.replaceChildren(view.element);
    applyZoom();
    revealActive();
    renderAccepted();
  } catch (err) {
    chartWrap.replaceChildren(
      h('div', { class: 'placeholder' }, `Could not draw this machine: ${String(err)}`),
    );
  }
}

/**
 * Scrolls the chart panel so that the active leaf states are in view when they change (a big
 * chart scrolls inside its panel; the highlight must not move out of sight unnoticed).
 */
let shownActive = new Set<string>();
function revealActive(): void {
  if (!chart) return;
  const before = shownActive;
  shownActive = new Set(chart.active);
  const leaves = chart.element.querySelectorAll<SVGGElement>(
    '[data-active="true"][data-type="atomic"], [data-active="true"][data-type="final"]',
  );
  // The leaf that just became active, else (a new chart) the first one.
  const all = Array.from(leaves);
  const leaf =
    all.find((g) => !before.has(g.dataset.state ?? '')) ?? (before.size ? undefined : all[0]);
  leaf?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
}

function renderEvent(e: EventEntry): HTMLElement {
  const { type, ...payload } = e.event;
  const internal = type.startsWith('xstate.');
  const rest = Object.keys(payload).length ? JSON.stringify(payload) : '';
  return h(
    'li',
    { 'data-seq': String(e.seq) },
    h('span', { class: 'time', title: new Date(e.at).toISOString() }, clockTime(e.at)),
    h(
      'span',
      {},
      h('span', { class: internal ? 'type internal' : 'type' }, type),
      e.source ? h('span', { class: 'time' }, ` from ${e.source}`) : '',
      rest ? h('div', { class: 'payload' }, rest) : '',
    ),
  );
}

/** Event types the active states accept (a hint for the send form). */
function renderAccepted(): void {
  if (!allowSend || !machine || !chart) return;
  const types = new Set<string>();
  const visit = (n: StateNodeDef) => {
    if (!chart?.active.has(n.id)) return;
    for (const t of n.transitions)
      if (t.kind === 'event' && !t.event.startsWith('xstate.')) types.add(t.event);
    n.states.forEach(visit);
  };
  visit(machine.root);
  accepted.replaceChildren(
    ...(types.size ? ['accepted now: '] : []),
    ...[...types].sort().map((t) => {
      const b = h('button', { type: 'button' }, t);
      b.addEventListener('click', () => {
        sendInput.value = JSON.stringify({ type: t });
        sendInput.focus();
      });
      return b;
    }),
  );
}

sendForm.addEventListener('submit', (e) => {
  e.preventDefault();
  if (!selected) return;
  const text = sendInput.value.trim();
  if (!text) return;
  let event: { type: string; [k: string]: unknown };
  try {
    event = text.startsWith('{') ? JSON.parse(text) : { type: text };
  } catch (err) {
    sendResult.className = 'send-result error';
    sendResult.textContent = `not JSON: ${(err as Error).message}`;
    return;
  }
  feed.send({ type: 'send', id: selected, event });
});

// Visible for tests and the console.
(window as unknown as { __visualizer: unknown }).__visualizer = {
  get selected() {
    return selected;
  },
  close: () => feed.close(),
};
