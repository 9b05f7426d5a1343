import type { SessionRow } from '../src/visualizer/protocol.js';
import { ago, clockTime, formatStateValue, h, shortId } from './format.js';

/** The sessions list: one page of rows, a pager and the total count. */
export interface SessionList {
  /** The list's panel. */
  readonly element: HTMLElement;
  /** Shows a page the feed sent. */
  show(page: { rows: SessionRow[]; total: number; offset: number }): void;
  /** Marks a session's row selected (if it is on this page). */
  select(id: string | null): void;
}

/**
 * Builds the list. Clicking a row calls `onSelect(id)`; the pager calls `onPage(offset)`. The
 * "last active" column is relative, so the rows are drawn again every 5 s between updates.
 */
export function createSessionList(options: {
  pageSize: number;
  onSelect: (id: string) => void;
  onPage: (offset: number) => void;
}): SessionList {
  const { pageSize } = options;
  const pageInfo = h('span', {}, '');
  const prev = h('button', { type: 'button', 'aria-label': 'previous page' }, '‹ prev');
  const next = h('button', { type: 'button', 'aria-label': 'next page' }, 'next ›');
  const rowsBody = h('tbody');
  const head = h(
    'tr',
    {},
    ...['session', 'logic', 'state', 'started', 'last active'].map((t) => h('th', {}, t)),
  );
  const empty = h('div', { class: 'empty' }, 'No live sessions.');
  // Paging through 10,000 sessions to find one is no way to find it: paste its ID instead.
  const goto = h('input', {
    class: 'goto',
    placeholder: 'open a session by ID',
    'aria-label': 'open a session by ID',
    spellcheck: 'false',
    autocomplete: 'off',
  });
  goto.addEventListener('keydown', (e) => {
    const id = goto.value.trim();
    if (e.key === 'Enter' && id) options.onSelect(id);
  });
  const element = h(
    'section',
    { class: 'list' },
    h('div', { class: 'list-head' }, goto, h('span', { class: 'pager' }, prev, pageInfo, next)),
    h(
      'div',
      { class: 'list-scroll' },
      h('table', { class: 'sessions' }, h('thead', {}, head), rowsBody),
      empty,
    ),
  );

  let page = { rows: [] as SessionRow[], total: 0, offset: 0 };
  let selected: string | null = null;

  const render = () => {
    const { rows, total, offset } = page;
    const last = Math.min(offset + rows.length, total);
    pageInfo.textContent = total
      ? `${offset + 1}–${last} of ${total.toLocaleString('en-US')}`
      : '0';
    prev.disabled = offset === 0;
    next.disabled = offset + pageSize >= total;
    empty.hidden = rows.length > 0;
    const now = Date.now();
    rowsBody.replaceChildren(
      ...rows.map((r) => {
        const tr = h(
          'tr',
          { 'data-session': r.id, 'aria-selected': String(r.id === selected), title: r.id },
          h('td', { class: 'id' }, shortId(r.id)),
          h('td', {}, r.logic),
          h('td', { class: 'state' }, formatStateValue(r.value)),
          h(
            'td',
            { title: new Date(r.startedAt).toISOString() },
            clockTime(r.startedAt).slice(0, 8),
          ),
          h('td', { title: new Date(r.lastActiveAt).toISOString() }, ago(r.lastActiveAt, now)),
        );
        tr.addEventListener('click', () => options.onSelect(r.id));
        return tr;
      }),
    );
  };

  prev.addEventListener('click', () => options.onPage(Math.max(0, page.offset - pageSize)));
  next.addEventListener('click', () => options.onPage(page.offset + pageSize));
  setInterval(render, 5_000);

  return {
    element,
    show(p) {
      page = p;
      render();
    },
    select(id) {
      selected = id;
      for (const tr of Array.from(rowsBody.children)) {
        tr.setAttribute('aria-selected', String((tr as HTMLElement).dataset.session === id));
      }
    },
  };
}
