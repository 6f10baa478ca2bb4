/**
 * The trace panel: a route's requests on the left (filterable), the waterfall of the chosen one
 * on the right, and under it the chosen span's details and the trace's log records. Telemetry is
 * rendered as text throughout.
 */
import {
  DEFAULT_FILTER,
  isHostToTrace,
  isTracePanelState,
  RANGES,
  type SpanView,
  type TraceFilter,
  type TraceListRow,
  callsLabel,
  type TraceMessage,
  type TracePanelState,
  type TracesMessage,
  type TraceToHost,
  type TraceView,
} from '../../features/traces/protocol';
import { el, onActivate, reconcile, setAttr, setText, toggleClass } from '../shared/dom';
import { clock, fmtMs, windowLabel } from '../shared/format';
import { vscodeApi } from '../shared/vscodeApi';
import { logsList, spanDetails, type DetailsActions } from './details';
import { Waterfall } from './waterfall';

const vscode = vscodeApi<TraceToHost, TracePanelState>(isTracePanelState);
let state: TracePanelState = vscode.getState() ?? { route: null, traceId: null, filter: { ...DEFAULT_FILTER }, spanId: null };
const post = (m: TraceToHost) => vscode.postMessage(m);
const save = () => vscode.setState(state);

let trace: TraceView | null = null;
let selectedSpan: SpanView | null = null;

// ---- header and filters --------------------------------------------------------------------------

const routeTitle = el('h1', { class: 'route-title', 'data-testid': 'route-title' }, 'Trace');
const routeService = el('span', { class: 'muted' });
const errorsOnly = el('input', { type: 'checkbox', id: 'f-errors' });
const slowOnly = el('input', { type: 'checkbox', id: 'f-slow' });
const slowLabel = el('label', { for: 'f-slow' }, 'Slower than p95');
const range = el('select', { 'aria-label': 'Time range', title: 'Time range' });
for (const r of RANGES) range.append(el('option', { value: String(r) }, r === 0 ? 'All kept' : `Last ${windowLabel(r)}`));
const listCount = el('span', { class: 'muted', role: 'status' });
const filters = el('div', { class: 'filters' }, el('span', { class: 'check' }, errorsOnly, el('label', { for: 'f-errors' }, 'Errors only')), el('span', { class: 'check' }, slowOnly, slowLabel), range, listCount);
const runCaption = el('p', { class: 'run-caption', 'data-testid': 'run-caption', hidden: '' });
const header = el('header', { class: 'top' }, el('div', { class: 'title-line' }, routeTitle, routeService), runCaption, filters);

function readFilter(): TraceFilter {
  return { errorsOnly: errorsOnly.checked, slowOnly: slowOnly.checked, rangeSec: Number(range.value) };
}
for (const input of [errorsOnly, slowOnly, range]) {
  input.addEventListener('change', () => {
    state = { ...state, filter: readFilter() };
    save();
    post({ type: 'setFilter', filter: state.filter });
  });
}

// ---- the route's requests ------------------------------------------------------------------------

const list = el('ul', { class: 'trace-list', role: 'listbox', tabindex: '0', 'aria-label': 'Requests of the route', 'data-testid': 'trace-list' });
const listEmpty = el('p', { class: 'muted list-empty', hidden: '' });
const clearFilters = el('button', { type: 'button', class: 'link', hidden: '' }, 'Show all requests');
clearFilters.addEventListener('click', () => {
  state = { ...state, filter: { ...DEFAULT_FILTER } };
  save();
  post({ type: 'setFilter', filter: state.filter });
});
const aside = el('aside', { class: 'side' }, list, listEmpty, clearFilters);
const items = new Map<string, HTMLLIElement>();
const itemParts = new WeakMap<Element, { time: HTMLElement; calls: HTMLElement; dur: HTMLElement; status: HTMLElement; bar: HTMLElement; row: TraceListRow }>();

let rows: TraceListRow[] = [];

function chooseTrace(traceId: string): void {
  if (state.traceId === traceId) return;
  state = { ...state, traceId, spanId: null };
  save();
  markSelected();
  post({ type: 'selectTrace', traceId });
}

function markSelected(): void {
  for (const [id, li] of items) {
    const on = id === state.traceId;
    toggleClass(li, 'selected', on);
    setAttr(li, 'aria-selected', String(on));
  }
  if (state.traceId && items.has(state.traceId)) setAttr(list, 'aria-activedescendant', `t-${state.traceId}`);
  else list.removeAttribute('aria-activedescendant');
}

list.addEventListener('keydown', (e) => {
  if (rows.length === 0) return;
  const at = rows.findIndex((r) => r.traceId === state.traceId);
  let next = at;
  if (e.key === 'ArrowDown') next = Math.min(rows.length - 1, at + 1);
  else if (e.key === 'ArrowUp') next = Math.max(0, at < 0 ? 0 : at - 1);
  else if (e.key === 'Home') next = 0;
  else if (e.key === 'End') next = rows.length - 1;
  else if (e.key === 'Enter' && at >= 0) {
    waterfall.focus();
    e.preventDefault();
    return;
  } else return;
  e.preventDefault();
  const id = rows[next].traceId;
  chooseTrace(id);
  items.get(id)?.scrollIntoView({ block: 'nearest' });
});

function onTraces(m: TracesMessage): void {
  state = { ...state, route: m.route, filter: m.filter };
  save();
  setText(routeTitle, m.route ? `${m.route.method} ${m.route.route}` : 'Trace');
  setText(routeService, m.route ? m.route.service : '');
  errorsOnly.checked = m.filter.errorsOnly;
  slowOnly.checked = m.filter.slowOnly;
  range.value = String(m.filter.rangeSec);
  setText(slowLabel, m.p95Ms === null ? 'Slower than p95' : `Slower than p95 (${fmtMs(m.p95Ms)} over ${windowLabel(m.windowSec)})`);
  slowOnly.disabled = m.p95Ms === null;
  setText(listCount, m.route ? `${m.rows.length} of ${m.total} requests` : '');
  // A compare panel: one run's kept sample, so no filters; the caption says which run.
  setText(runCaption, m.caption ?? '');
  runCaption.hidden = m.caption === undefined;
  filters.hidden = m.caption !== undefined;
  rows = m.rows;
  const max = rows.reduce((a, r) => Math.max(a, r.durationMs), 0) || 1;
  reconcile(list, rows, items, {
    key: (r) => r.traceId,
    create: (r) => {
      const li = el('li', { role: 'option', id: `t-${r.traceId}`, 'data-trace-id': r.traceId });
      const parts = { time: el('span', { class: 'time' }), calls: el('span', { class: 'calls', 'data-testid': 'trace-calls' }), dur: el('span', { class: 'dur' }), status: el('span', { class: 'status' }), bar: el('span', { class: 'dur-bar' }), row: r };
      li.append(el('div', { class: 'item-line' }, parts.time, parts.calls, parts.status, parts.dur), el('div', { class: 'dur-track', 'aria-hidden': 'true' }, parts.bar));
      li.addEventListener('click', () => {
        chooseTrace(parts.row.traceId);
        list.focus({ preventScroll: true });
      });
      itemParts.set(li, parts);
      return li;
    },
    update: (li, r) => {
      const p = itemParts.get(li)!;
      p.row = r;
      setText(p.time, clock(r.startMs));
      const made = callsLabel(r);
      setText(p.calls, made);
      setText(p.dur, r.pausedMs ? `${fmtMs(r.durationMs)} · paused ${fmtMs(r.pausedMs)}` : fmtMs(r.durationMs));
      toggleClass(li, 'paused', !!r.pausedMs);
      setText(p.status, r.statusCode !== undefined ? String(r.statusCode) : r.error ? 'error' : '');
      toggleClass(li, 'error', r.error);
      p.bar.style.width = `${Math.max(1, (r.durationMs / max) * 100)}%`;
      setAttr(li, 'aria-label', `${clock(r.startMs)}, ${fmtMs(r.durationMs)}${made ? `, ${made.replace(' · ', ', ')}` : ''}${r.pausedMs ? `, of which ${fmtMs(r.pausedMs)} paused in the debugger` : ''}${r.statusCode !== undefined ? `, status ${r.statusCode}` : ''}${r.error ? ', failed' : ''}`);
    },
  });
  markSelected();
  const filtered = m.filter.errorsOnly || m.filter.slowOnly || m.filter.rangeSec > 0;
  listEmpty.hidden = rows.length > 0;
  setText(listEmpty, !m.route ? 'This trace has no HTTP route, so there is no request list.' : m.total === 0 ? 'No requests of this route are kept.' : 'No request matches the filters.');
  clearFilters.hidden = !(filtered && rows.length === 0 && m.total > 0);
}

// ---- the chosen trace ----------------------------------------------------------------------------

const traceHead = el('div', { class: 'trace-head', 'data-testid': 'trace-head' });
const details = el('div', { class: 'details', tabindex: '-1' });
const placeholder = el('p', { class: 'muted placeholder', 'data-testid': 'trace-placeholder' });

const actions: DetailsActions = {
  openSpanSource: (span, frame) => post({ type: 'openSource', owner: 'span', id: span.spanId, frame }),
  openLogSource: (i, frame) => post({ type: 'openSource', owner: 'log', id: String(i), frame }),
  openLogs: (traceId) => post({ type: 'openLogs', traceId }),
  selectSpan: (spanId) => {
    const t = trace;
    if (!t) return;
    waterfall.setTrace(t, spanId, waterfall.scrollTop);
  },
};

const waterfall = new Waterfall(
  (span) => {
    selectedSpan = span;
    state = { ...state, spanId: span?.spanId ?? null };
    save();
    renderDetails();
  },
  (span) => {
    if (span.code) actions.openSpanSource(span, -1);
    else if (span.exception?.frames.length) actions.openSpanSource(span, span.exception.frames.length - 1);
  },
);

function renderDetails(): void {
  if (!trace) {
    details.replaceChildren();
    return;
  }
  details.replaceChildren(spanDetails(trace, selectedSpan, actions), logsList(trace, selectedSpan?.spanId ?? null, actions));
}

function legend(t: TraceView): HTMLElement {
  const box = el('span', { class: 'legend' });
  t.services.forEach((s, i) => box.append(el('span', { class: 'legend-item' }, el('span', { class: `wf-chip svc-${i % 8}`, 'aria-hidden': 'true' }), s)));
  return box;
}

function onTrace(m: TraceMessage): void {
  const previous = trace?.traceId;
  trace = m.trace;
  if (m.traceId !== state.traceId) {
    state = { ...state, traceId: m.traceId, spanId: null };
    markSelected();
  }
  save();
  placeholder.hidden = trace !== null;
  waterfall.root.hidden = trace === null;
  details.hidden = trace === null;
  traceHead.hidden = trace === null;
  if (!trace) {
    renderFindings(null);
    setText(placeholder, m.traceId ? 'This trace is no longer in memory (the oldest spans are dropped first, and Clear Data empties everything).' : 'Choose a request to see its trace.');
    waterfall.setTrace(null, null);
    renderDetails();
    return;
  }
  const errors = trace.spans.filter((s) => s.status === 'error').length;
  traceHead.replaceChildren(
    el('span', { class: 'fact' }, el('span', { class: 'muted' }, 'trace '), el('code', { 'data-testid': 'trace-id' }, trace.traceId)),
    el('span', { class: 'fact' }, clock(trace.startMs)),
    el('span', { class: 'fact' }, fmtMs(trace.durationMs)),
    el('span', { class: 'fact', 'data-testid': 'span-count' }, trace.spans.length === 1 ? '1 span' : `${trace.spans.length} spans`),
    errors ? el('span', { class: 'fact error-text' }, `${errors} failed`) : '',
    trace.orphans ? el('span', { class: 'fact muted', title: 'Spans whose parent has not arrived or was dropped are shown at the top level' }, `${trace.orphans} without parent`) : '',
    trace.analysis?.criticalPath.length ? el('span', { class: 'fact path-legend', title: 'The parts of the spans this request waited on' }, el('span', { class: 'swatch', 'aria-hidden': 'true' }), 'critical path') : '',
    legend(trace),
    askButton(trace.traceId),
  );
  renderFindings(trace);
  const keepSpan = previous === trace.traceId ? (selectedSpan?.spanId ?? null) : (state.spanId ?? null);
  waterfall.setTrace(trace, keepSpan);
}

/** "Ask Copilot": the chat opens with a question about this trace (the host decides what is available). */
function askButton(traceId: string): HTMLElement {
  const b = el('button', { type: 'button', class: 'link ask', 'data-testid': 'ask-copilot', title: 'Open the chat with a question about this trace and the Routelens tools to answer it' }, 'Ask Copilot');
  b.addEventListener('click', () => post({ type: 'askCopilot', traceId }));
  return b;
}

const findingsList = el('ul', { class: 'findings', 'data-testid': 'trace-findings', 'aria-label': 'Findings in this trace' });

/** The trace's findings above the waterfall; each selects its first span, its line opens the code. */
function renderFindings(t: TraceView | null): void {
  const fs = t?.analysis?.findings ?? [];
  findingsList.hidden = fs.length === 0;
  findingsList.replaceChildren(
    ...fs.map((f) => {
      const where = f.code ? el('button', { type: 'button', class: 'link where', title: `Open ${f.code.file}:${f.code.line}` }, `${f.code.file.split('/').pop()}:${f.code.line}`) : el('span', { class: 'where' }, '');
      const li = el('li', { tabindex: '0', title: 'Select the first of its spans' }, el('span', { class: 'kind' }, f.kind === 'n+1' ? 'N+1' : 'Slow'), el('span', { class: 'text' }, f.text.replace(/^(N\+1|Slow query): /, '')), where);
      const first = f.spanIds[0];
      onActivate(li, () => {
        if (!trace || !first) return;
        waterfall.setTrace(trace, first, waterfall.scrollTop);
        waterfall.focus();
      });
      where.addEventListener('click', (e) => {
        e.stopPropagation();
        if (first && f.code) post({ type: 'openSource', owner: 'span', id: first, frame: -1 });
      });
      return li;
    }),
  );
}

const main = el('main', { class: 'main' }, traceHead, placeholder, findingsList, waterfall.root, details);
document.getElementById('app')!.append(header, el('div', { class: 'split' }, aside, main));
placeholder.hidden = false;
setText(placeholder, 'Loading…');
waterfall.root.hidden = true;
details.hidden = true;
traceHead.hidden = true;

window.addEventListener('message', (ev: MessageEvent) => {
  const m: unknown = ev.data;
  if (!isHostToTrace(m)) return;
  if (m.type === 'traces') onTraces(m);
  else onTrace(m);
});

post({ type: 'ready' });
