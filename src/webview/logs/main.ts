/**
 * The log view: filters on top, a histogram of records per level over time (a click narrows the
 * time range), then the records, newest at the bottom, in a virtualised list (only the rows in
 * sight exist in the DOM; the host sends the rows asked for), and the chosen record's details.
 * Every telemetry string goes in as text.
 */
import {
  EMPTY_FILTER,
  isHostToLogs,
  isLogViewState,
  LEVELS,
  MAX_ROWS_PER_REQUEST,
  type HostToLogs,
  type Histogram,
  type LogDetail,
  type LogFilter,
  type LogRow,
  type LogsToHost,
  type LogViewState,
} from '../../features/logs/protocol';
import { el, setText, svg, toggleClass } from '../shared/dom';
import { vscodeApi } from '../shared/vscodeApi';

const vscode = vscodeApi<LogsToHost, LogViewState>(isLogViewState);
let state: LogViewState = vscode.getState() ?? { filter: { ...EMPTY_FILTER }, paused: false };
const post = (m: LogsToHost) => vscode.postMessage(m);

const ROW_H = 22;
const OVERSCAN = 10;

let version = 0;
let total = 0;
let held = 0;
const cache = new Map<number, LogRow | null>();
let selected: number | null = null;
let detail: LogDetail | null = null;

function saveAndSend(): void {
  vscode.setState(state);
  post({ type: 'setState', state });
}

function setFilter(f: Partial<LogFilter>): void {
  state = { ...state, filter: { ...state.filter, ...f } };
  selected = null;
  detail = null;
  renderDetail();
  syncControls();
  saveAndSend();
}

// ---- filters ---------------------------------------------------------------------------------------

const level = el('select', { 'aria-label': 'Lowest level', title: 'Lowest level shown', 'data-testid': 'f-level' });
level.append(el('option', { value: '' }, 'All levels'));
for (const l of LEVELS) level.append(el('option', { value: l }, `${l.toUpperCase()} and above`));
const service = el('select', { 'aria-label': 'Service', title: 'Service', 'data-testid': 'f-service' });
const route = el('select', { 'aria-label': 'Route', title: 'Route of the record’s request', 'data-testid': 'f-route' });
const search = el('input', { type: 'search', class: 'search', placeholder: 'Search: words, "a phrase", user_id=42, status!=200', 'aria-label': 'Search the records', spellcheck: 'false', 'data-testid': 'f-text' });
const traceInput = el('input', { type: 'search', class: 'trace-input', placeholder: 'Trace id', 'aria-label': 'Trace id', spellcheck: 'false', maxlength: '32', 'data-testid': 'f-trace' });
const failed = el('input', { type: 'checkbox', id: 'f-failed', 'data-testid': 'f-failed' });
const rangeChip = el('span', { class: 'range-chip', hidden: '', 'data-testid': 'f-range' });
const rangeText = el('span');
const rangeClear = el('button', { type: 'button', class: 'link', title: 'Show every time', 'aria-label': 'Clear the time range' }, '✕');
rangeChip.append(rangeText, rangeClear);
const pause = el('button', { type: 'button', class: 'pause', 'data-testid': 'pause', title: 'Stop the list moving while you read' }, 'Pause');
const clearAll = el('button', { type: 'button', class: 'link', title: 'Remove every filter', 'data-testid': 'clear-filters' }, 'Clear filters');
const count = el('span', { class: 'muted count', role: 'status', 'data-testid': 'count' });
const toolbar = el(
  'header',
  { class: 'toolbar' },
  el('div', { class: 'row' }, search, traceInput),
  el('div', { class: 'row' }, level, service, route, el('span', { class: 'check' }, failed, el('label', { for: 'f-failed' }, 'Failed requests only')), rangeChip, clearAll, el('span', { class: 'grow' }), count, pause),
);

level.addEventListener('change', () => setFilter({ level: level.value as LogFilter['level'] }));
service.addEventListener('change', () => setFilter({ service: service.value }));
route.addEventListener('change', () => setFilter({ route: route.value }));
failed.addEventListener('change', () => setFilter({ failedOnly: failed.checked }));
rangeClear.addEventListener('click', () => setFilter({ sinceMs: null, untilMs: null }));
clearAll.addEventListener('click', () => setFilter({ ...EMPTY_FILTER }));
let typing: ReturnType<typeof setTimeout> | undefined;
search.addEventListener('input', () => {
  if (typing) clearTimeout(typing);
  typing = setTimeout(() => setFilter({ text: search.value.slice(0, 1000) }), 250);
});
search.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') {
    if (typing) clearTimeout(typing);
    setFilter({ text: search.value.slice(0, 1000) });
  }
});
traceInput.addEventListener('change', () => {
  const v = traceInput.value.trim().toLowerCase();
  if (v === '' || /^[0-9a-f]{32}$/.test(v)) setFilter({ traceId: v });
  toggleClass(traceInput, 'invalid', !(v === '' || /^[0-9a-f]{32}$/.test(v)));
});
pause.addEventListener('click', () => {
  state = { ...state, paused: !state.paused };
  syncControls();
  saveAndSend();
  if (!state.paused) scrollToEnd();
});

function fillSelect(select: HTMLSelectElement, first: string, values: string[], current: string): void {
  const want = [...new Set([...(current ? [current] : []), ...values])];
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.length !== want.length || have.some((v, i) => v !== want[i]) || select.options.length === 0) {
    select.replaceChildren(el('option', { value: '' }, first), ...want.map((v) => el('option', { value: v }, v)));
  }
  select.value = current;
}

function syncControls(): void {
  const f = state.filter;
  level.value = f.level;
  if (document.activeElement !== search) search.value = f.text;
  if (document.activeElement !== traceInput) traceInput.value = f.traceId;
  failed.checked = f.failedOnly;
  fillSelect(service, 'All services', lastServices, f.service);
  fillSelect(route, 'All routes', lastRoutes, f.route);
  rangeChip.hidden = f.sinceMs === null && f.untilMs === null;
  setText(rangeText, `${f.sinceMs !== null ? clock(f.sinceMs) : '…'} – ${f.untilMs !== null ? clock(f.untilMs) : '…'} `);
  setText(pause, state.paused ? 'Resume' : 'Pause');
  toggleClass(pause, 'paused', state.paused);
  pause.setAttribute('aria-pressed', String(state.paused));
}
let lastServices: string[] = [];
let lastRoutes: string[] = [];

// ---- histogram ---------------------------------------------------------------------------------------

const GROUP_NAMES = ['debug', 'info', 'warn', 'error'];
const chart = svg('svg', { class: 'histogram', role: 'img', 'aria-label': 'Records per level over time', 'data-testid': 'histogram', preserveAspectRatio: 'none' });
const axis = el('div', { class: 'axis muted' });
const histoBox = el('section', { class: 'histo' }, chart, axis);
let histogram: Histogram = { startMs: 0, bucketMs: 1000, counts: [] };

function renderHistogram(): void {
  const n = histogram.counts.length;
  chart.replaceChildren();
  const w = 1000;
  const h = 60;
  chart.setAttribute('viewBox', `0 0 ${w} ${h}`);
  if (n === 0) {
    axis.replaceChildren();
    return;
  }
  const max = Math.max(1, ...histogram.counts.map((c) => c[0] + c[1] + c[2] + c[3]));
  // At least 30 slots wide, so a result in one or two buckets is not one wall-wide bar.
  const bw = w / Math.max(n, 30);
  histogram.counts.forEach((c, b) => {
    const g = svg('g', { class: 'bucket', 'data-bucket': String(b) });
    const from = histogram.startMs + b * histogram.bucketMs;
    const sum = c[0] + c[1] + c[2] + c[3];
    const title = svg('title');
    title.textContent = `${clock(from)} – ${clock(from + histogram.bucketMs)}: ${sum} records (${c[3]} error, ${c[2]} warn, ${c[1]} info, ${c[0]} debug)${sum ? '. Click to show only this time.' : ''}`;
    g.append(title, svg('rect', { class: 'hit', x: String(b * bw), y: '0', width: String(bw), height: String(h) }));
    let y = h;
    for (let k = 0; k < 4; k++) {
      if (!c[k]) continue;
      const bh = Math.max(1, (c[k] / max) * (h - 2));
      y -= bh;
      g.append(svg('rect', { class: `bar g-${GROUP_NAMES[k]}`, x: String(b * bw + bw * 0.1), y: String(y), width: String(Math.max(1, bw * 0.8)), height: String(bh) }));
    }
    g.addEventListener('click', () => {
      if (!sum) return;
      setFilter({ sinceMs: from, untilMs: from + histogram.bucketMs });
    });
    chart.append(g);
  });
  const end = histogram.startMs + n * histogram.bucketMs;
  axis.replaceChildren(el('span', {}, clock(histogram.startMs)), el('span', {}, `${fmtBucket(histogram.bucketMs)} a bar · max ${max}`), el('span', {}, clock(end)));
}

function fmtBucket(ms: number): string {
  if (ms < 60_000) return `${ms / 1000} s`;
  if (ms < 3_600_000) return `${ms / 60_000} min`;
  return `${ms / 3_600_000} h`;
}

// ---- the list ------------------------------------------------------------------------------------------

const head = el(
  'div',
  { class: 'list-head', role: 'row' },
  el('span', { class: 'c-time', role: 'columnheader' }, 'Time'),
  el('span', { class: 'c-level', role: 'columnheader' }, 'Level'),
  el('span', { class: 'c-service', role: 'columnheader' }, 'Service'),
  el('span', { class: 'c-route', role: 'columnheader' }, 'Route'),
  el('span', { class: 'c-msg', role: 'columnheader' }, 'Message'),
);
const spacer = el('div', { class: 'spacer' });
const viewport = el('div', { class: 'viewport', role: 'grid', tabindex: '0', 'aria-label': 'Log records, newest at the bottom', 'data-testid': 'log-list' }, spacer);
const empty = el('p', { class: 'muted empty', hidden: '', 'data-testid': 'empty' });
const listBox = el('section', { class: 'list' }, head, viewport, empty);
const pool: HTMLDivElement[] = [];
let pending: { start: number; count: number } | null = null;

function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function makeRow(): HTMLDivElement {
  const row = el('div', { class: 'log-row', role: 'row' });
  row.append(el('span', { class: 'c-time' }), el('span', { class: 'c-level' }), el('span', { class: 'c-service' }), el('span', { class: 'c-route' }), el('span', { class: 'c-msg' }));
  row.addEventListener('click', () => select(Number(row.dataset.index)));
  row.addEventListener('dblclick', () => {
    const i = Number(row.dataset.index);
    post({ type: 'openSource', version, index: i });
  });
  return row;
}

function fillRow(row: HTMLDivElement, index: number, r: LogRow | null | undefined): void {
  row.dataset.index = String(index);
  row.style.transform = `translateY(${index * ROW_H}px)`;
  const [time, lvl, svc, rte, msg] = row.children as unknown as HTMLElement[];
  toggleClass(row, 'selected', index === selected);
  row.setAttribute('aria-selected', String(index === selected));
  if (!r) {
    row.className = `log-row ${r === null ? 'gone' : 'loading'}${index === selected ? ' selected' : ''}`;
    setText(time, '');
    setText(lvl, '');
    setText(svc, '');
    setText(rte, '');
    msg.replaceChildren(r === null ? 'This record is no longer in the store.' : '');
    return;
  }
  row.className = `log-row lv-${r.level}${index === selected ? ' selected' : ''}`;
  row.dataset.seq = String(r.seq);
  setText(time, clock(r.timeMs));
  setText(lvl, r.level.toUpperCase());
  setText(svc, r.service);
  svc.title = r.service;
  setText(rte, r.route);
  rte.title = r.route;
  const parts: Node[] = [el('span', { class: 'text' }, r.message)];
  if (r.exception) parts.push(el('span', { class: 'exc' }, r.exception));
  for (const [k, v] of r.chips) parts.push(el('span', { class: 'chip' }, el('span', { class: 'k' }, k), '=', el('span', { class: 'v' }, v)));
  msg.replaceChildren(...parts);
  msg.title = r.message;
}

function render(): void {
  spacer.style.height = `${total * ROW_H}px`;
  const first = Math.max(0, Math.floor(viewport.scrollTop / ROW_H) - OVERSCAN);
  const visible = Math.ceil(viewport.clientHeight / ROW_H) + OVERSCAN * 2;
  const last = Math.min(total, first + visible);
  const need = last - first;
  while (pool.length < need) {
    const r = makeRow();
    pool.push(r);
    spacer.append(r);
  }
  // Rows out of sight leave the DOM (a hidden row would still be found by text).
  for (const extra of pool.splice(need)) extra.remove();
  let missingFrom = -1;
  let missingTo = -1;
  for (let k = 0; k < pool.length; k++) {
    const row = pool[k];
    const i = first + k;
    const r = cache.get(i);
    fillRow(row, i, r);
    if (r === undefined) {
      if (missingFrom < 0) missingFrom = i;
      missingTo = i;
    }
  }
  if (missingFrom >= 0) request(missingFrom, missingTo - missingFrom + 1);
  empty.hidden = total > 0;
  if (total === 0) setText(empty, held === 0 ? 'No log records yet. Records from the Python agent, OTLP logs from any SDK and the debug console appear here as they arrive.' : 'No record matches these filters.');
  const f = state.filter;
  const filtered = f.level || f.service || f.route || f.text || f.traceId || f.failedOnly || f.sinceMs !== null || f.untilMs !== null;
  setText(count, filtered ? `${total.toLocaleString()} of ${held.toLocaleString()} records` : `${total.toLocaleString()} records`);
  clearAll.hidden = !filtered;
}

function request(start: number, n: number): void {
  const count = Math.min(MAX_ROWS_PER_REQUEST, Math.max(n, 1));
  if (pending && pending.start === start && pending.count === count) return;
  pending = { start, count };
  post({ type: 'rows', version, start, count });
}

let frame = 0;
viewport.addEventListener('scroll', () => {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    render();
  });
});
new ResizeObserver(() => render()).observe(viewport);

function atEnd(): boolean {
  return viewport.scrollTop + viewport.clientHeight >= viewport.scrollHeight - ROW_H;
}

function scrollToEnd(): void {
  spacer.style.height = `${total * ROW_H}px`;
  viewport.scrollTop = viewport.scrollHeight;
  render();
}

function select(index: number): void {
  if (!(index >= 0 && index < total)) return;
  selected = index;
  detail = null;
  post({ type: 'detail', version, index });
  render();
  renderDetail();
}

viewport.addEventListener('keydown', (e) => {
  if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    const next = selected === null ? total - 1 : Math.min(total - 1, Math.max(0, selected + (e.key === 'ArrowDown' ? 1 : -1)));
    select(next);
    const top = next * ROW_H;
    if (top < viewport.scrollTop) viewport.scrollTop = top;
    else if (top + ROW_H > viewport.scrollTop + viewport.clientHeight) viewport.scrollTop = top + ROW_H - viewport.clientHeight;
  } else if (e.key === 'Enter' && selected !== null) {
    post({ type: 'openSource', version, index: selected });
  } else if (e.key === 'End') {
    scrollToEnd();
  }
});

// ---- details ------------------------------------------------------------------------------------------

const details = el('section', { class: 'details', hidden: '', 'aria-label': 'The chosen record', 'data-testid': 'details' });

function renderDetail(): void {
  if (selected === null) {
    details.hidden = true;
    return;
  }
  details.hidden = false;
  const row = cache.get(selected);
  const index = selected;
  const actions = el('div', { class: 'actions' });
  if (row?.callsite) {
    const b = el('button', { type: 'button', 'data-testid': 'open-source', title: 'Open the line that wrote this record' }, `Open ${row.callsite}`);
    b.addEventListener('click', () => post({ type: 'openSource', version, index }));
    actions.append(b);
  }
  if (row?.traceId) {
    const traceId = row.traceId;
    const t = el('button', { type: 'button', 'data-testid': 'open-trace', title: 'Show this record’s trace in the trace panel' }, 'Show trace');
    t.addEventListener('click', () => post({ type: 'openTrace', version, index }));
    const f = el('button', { type: 'button', class: 'link', 'data-testid': 'filter-trace', title: 'Only the records of this trace' }, 'Only this trace');
    f.addEventListener('click', () => setFilter({ traceId }));
    actions.append(t, f);
  }
  const close = el('button', { type: 'button', class: 'link close', 'aria-label': 'Close the details' }, '✕');
  close.addEventListener('click', () => {
    selected = null;
    renderDetail();
    render();
  });
  actions.append(el('span', { class: 'grow' }), close);
  const parts: Node[] = [actions];
  if (row) {
    parts.push(el('div', { class: 'facts muted' }, `${clock(row.timeMs)} · ${row.level.toUpperCase()} · ${row.service}${row.route ? ` · ${row.route}` : ''}${row.traceId ? ` · trace ${row.traceId}` : ''}`));
  }
  if (detail && detail.seq === row?.seq) {
    parts.push(el('pre', { class: 'body', 'data-testid': 'detail-body' }, detail.body));
    if (detail.bodyCut > 0) parts.push(el('p', { class: 'muted' }, `… ${detail.bodyCut.toLocaleString()} more characters not shown.`));
    if (detail.exception) parts.push(el('pre', { class: 'exception' }, `${detail.exception.type}: ${detail.exception.message}\n${detail.exception.stacktrace}`));
    if (detail.attributes.length) {
      const table = el('table', { class: 'attrs' });
      for (const [k, v] of detail.attributes) {
        const add = el('button', { type: 'button', class: 'link', title: `Only records with ${k}=${v.slice(0, 60)}` }, '+');
        add.addEventListener('click', () => {
          const value = /[\s"]/.test(v) ? `"${v.replace(/"/g, '')}"` : v;
          setFilter({ text: `${state.filter.text} ${k}=${value}`.trim() });
        });
        table.append(el('tr', {}, el('th', {}, k), el('td', {}, el('span', {}, v), ' ', add)));
      }
      parts.push(table);
    }
  } else if (!row) {
    parts.push(el('p', { class: 'muted' }, 'Loading…'));
  }
  details.replaceChildren(...parts);
}

// ---- messages ------------------------------------------------------------------------------------------

window.addEventListener('message', (e: MessageEvent) => {
  const m: unknown = e.data;
  if (!isHostToLogs(m)) return;
  onHost(m);
});

function onHost(m: HostToLogs): void {
  switch (m.type) {
    case 'result': {
      // Paused: nothing moves (an update already on its way when the pause was clicked is dropped).
      if (state.paused && m.version === version) return;
      const follow = !state.paused && (atEnd() || m.tail);
      if (m.version !== version) {
        version = m.version;
        cache.clear();
        pending = null;
        if (selected !== null) {
          selected = null;
          renderDetail();
        }
      }
      total = m.total;
      held = m.held;
      histogram = m.histogram;
      lastServices = m.services;
      lastRoutes = m.routes;
      syncControls();
      renderHistogram();
      // The rows in sight are asked for again: a record's route can arrive after it.
      for (const k of [...cache.keys()]) if (k >= total - 200) cache.delete(k);
      pending = null;
      if (follow) scrollToEnd();
      else render();
      return;
    }
    case 'rows':
      if (m.version !== version) return;
      pending = null;
      m.rows.forEach((r, k) => cache.set(m.start + k, r));
      if (cache.size > 5000) {
        const keep = Math.floor(viewport.scrollTop / ROW_H);
        for (const k of [...cache.keys()]) if (Math.abs(k - keep) > 1000) cache.delete(k);
      }
      render();
      if (selected !== null && m.start <= selected && selected < m.start + m.rows.length) renderDetail();
      return;
    case 'detail':
      if (m.version !== version || m.index !== selected) return;
      detail = m.detail;
      renderDetail();
      return;
    case 'setFilter':
      state = { ...state, filter: { ...m.filter } };
      vscode.setState(state);
      syncControls();
      return;
  }
}

const app = document.getElementById('app')!;
app.append(toolbar, histoBox, listBox, details);
syncControls();
post({ type: 'ready', state });
