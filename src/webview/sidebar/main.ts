/**
 * The sidebar: collector status, live charts, the routes table, recent errors and the slow and
 * failed requests. The page is built once and updated in place on every state from the host.
 * Every string from telemetry goes into the DOM as text (textContent, attribute values).
 */
import { isHostToDashboard, WINDOWS, type UpstreamView, type ErrorRow, type MapEdgeRow, type DashboardCommand, type DashboardState, type DashboardToHost, type TestRow, type TraceRow } from '../../features/dashboard/protocol';
import { el, onActivate, reconcile, setAttr, setText, toggleClass } from '../shared/dom';
import { ago, fmtBytes, fmtMs, fmtPct, fmtRate } from '../shared/format';
import { onThemeChange, readTheme } from '../shared/theme';
import { TimeChart } from '../shared/timeChart';
import { vscodeApi } from '../shared/vscodeApi';
import { RoutesTable, SORT_KEYS, type SortKey, type TableUi } from './routesTable';

interface SavedUi extends TableUi {
  scrollY: number;
}

function isSavedUi(s: unknown): s is SavedUi {
  if (typeof s !== 'object' || s === null) return false;
  const o = s as Record<string, unknown>;
  return SORT_KEYS.includes(o.sort as SortKey) && typeof o.desc === 'boolean' && typeof o.filter === 'string' && typeof o.scrollY === 'number' && (o.source === undefined || o.source === 'local' || o.source === 'remote');
}

const vscode = vscodeApi<DashboardToHost, SavedUi>(isSavedUi);
const ui: SavedUi = vscode.getState() ?? { sort: 'rps', desc: true, filter: '', scrollY: 0 };
const post = (m: DashboardToHost) => vscode.postMessage(m);
const save = () => vscode.setState(ui);

function commandButton(label: string, command: DashboardCommand, title: string, cls = ''): HTMLButtonElement {
  const b = el('button', { type: 'button', title, class: cls }, label);
  b.addEventListener('click', () => post({ type: 'command', command }));
  return b;
}

// ---- header --------------------------------------------------------------------------------------

const STATE_TEXT: Record<DashboardState['collector']['state'], string> = { listening: 'Listening', viewer: 'Connected to another window', starting: 'Starting…', stopped: 'Stopped', portInUse: 'Port in use', error: 'Not running' };

const dot = el('span', { class: 'dot busy', 'aria-hidden': 'true' });
const stateText = el('span', { class: 'state', 'data-testid': 'collector-state', role: 'status' }, 'Starting…');
const pausedBadge = el('span', { class: 'badge paused', hidden: '' }, 'Paused');
const endpoint = el('code', { class: 'endpoint', title: 'OTLP/HTTP and agent endpoint' });
const message = el('p', { class: 'message', role: 'alert', hidden: '' });
const windowSelect = el('select', { 'aria-label': 'Statistics window', title: 'Statistics window' });
for (const w of WINDOWS) windowSelect.append(el('option', { value: String(w) }, `${w / 60} min`));
windowSelect.addEventListener('change', () => post({ type: 'setWindow', seconds: Number(windowSelect.value) }));
const serviceSelect = el('select', { 'aria-label': 'Service', title: 'Service', 'data-testid': 'service-select', hidden: '' });
serviceSelect.addEventListener('change', () => post({ type: 'setService', service: serviceSelect.value === '' ? null : serviceSelect.value }));
const pauseButton = commandButton('Pause', 'togglePause', 'Pause live updates');
pauseButton.setAttribute('data-testid', 'pause');
const restartButton = commandButton('Restart', 'restartCollector', 'Restart the collector', 'primary');
restartButton.hidden = true;
const servicesLine = el('div', { class: 'services', 'data-testid': 'services' });
const header = el(
  'header',
  { class: 'head' },
  el('div', { class: 'status-line' }, dot, stateText, pausedBadge, endpoint),
  message,
  el('div', { class: 'tools' }, windowSelect, serviceSelect, pauseButton, commandButton('Clear', 'clearData', 'Clear all data'), commandButton('Logs', 'showLogs', 'Show the Routelens log'), restartButton),
  servicesLine,
);

let serviceOptions = '';
function updateHeader(s: DashboardState): void {
  const c = s.collector;
  dot.className = `dot ${c.state === 'listening' || c.state === 'viewer' ? 'ok' : c.state === 'starting' || c.state === 'stopped' ? 'busy' : 'bad'}`;
  setText(stateText, STATE_TEXT[c.state]);
  setText(endpoint, c.endpoint);
  message.hidden = !c.message;
  setText(message, c.message ?? '');
  restartButton.hidden = !(c.state === 'portInUse' || c.state === 'error');
  pausedBadge.hidden = !s.paused;
  setText(pauseButton, s.paused ? 'Resume' : 'Pause');
  setAttr(pauseButton, 'title', s.paused ? 'Resume live updates' : 'Pause live updates');
  if (windowSelect.value !== String(s.windowSec)) windowSelect.value = String(s.windowSec);
  const options = JSON.stringify(s.services);
  if (options !== serviceOptions) {
    serviceOptions = options;
    serviceSelect.replaceChildren(el('option', { value: '' }, 'All services'), ...s.services.map((name) => el('option', { value: name }, name)));
  }
  serviceSelect.hidden = s.services.length < 2;
  if (serviceSelect.value !== (s.service ?? '')) serviceSelect.value = s.service ?? '';
  servicesLine.hidden = s.services.length !== 1;
  setText(servicesLine, s.services.length === 1 ? `Service: ${s.services[0]}` : '');
}

// ---- beyond this machine: forwarding and the remote Prometheus --------------------------------------

const forwardDot = el('span', { class: 'dot', 'aria-hidden': 'true' });
const forwardText = el('span', { class: 'up-what' });
const forwardMeta = el('div', { class: 'up-meta', 'data-testid': 'forward-state' });
const forwardLine = el('li', { 'data-testid': 'forward-line' }, el('div', { class: 'up-title' }, forwardDot, forwardText), forwardMeta);
const remoteDot = el('span', { class: 'dot', 'aria-hidden': 'true' });
const remoteText = el('span', { class: 'up-what' });
const remoteMeta = el('div', { class: 'up-meta', 'data-testid': 'remote-state' });
const remoteLine = el('li', { 'data-testid': 'remote-line' }, el('div', { class: 'up-title' }, remoteDot, remoteText), remoteMeta);
const upstreamSection = el('section', { class: 'upstream', 'aria-label': 'Beyond this machine', 'data-testid': 'upstream-section' }, el('ul', { class: 'list up-list' }, forwardLine, remoteLine));
upstreamSection.hidden = true;

const FORWARD_DOT: Record<NonNullable<UpstreamView['forward']>['state'], string> = { idle: 'busy', ok: 'ok', retrying: 'warn', failing: 'bad', off: 'bad', elsewhere: 'busy' };

function rangeText(s: number): string {
  return s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`;
}

function updateUpstream(s: DashboardState): void {
  const u = s.upstream;
  upstreamSection.hidden = !u;
  const f = u?.forward;
  forwardLine.hidden = !f;
  if (f) {
    forwardDot.className = `dot ${FORWARD_DOT[f.state]}`;
    setText(forwardText, `Forwarding to ${f.endpoint} (${f.protocol})`);
    const counts = `${f.sent} sent · ${f.queued} queued · ${f.dropped} dropped`;
    const state = f.state === 'elsewhere' ? 'runs in the window that owns the collector' : f.state === 'off' ? 'off' : f.state === 'retrying' ? `retrying (${f.retries} ${f.retries === 1 ? 'retry' : 'retries'}) · ${counts}` : `${f.state} · ${counts}`;
    setText(forwardMeta, f.lastError && f.state !== 'ok' ? `${state} · ${f.lastError}` : state);
    toggleClass(forwardMeta, 'bad', f.state === 'failing' || f.state === 'off' || f.state === 'retrying');
    setAttr(forwardLine, 'title', f.lastError ? `Last error: ${f.lastError}` : `Everything received is sent on to ${f.endpoint}`);
  }
  const r = u?.remote;
  remoteLine.hidden = !r;
  if (r) {
    remoteDot.className = `dot ${r.state === 'ok' ? 'ok' : r.state === 'error' ? 'bad' : 'busy'}`;
    setText(remoteText, `${r.label} figures from ${r.url}`);
    const asOf = r.asOfMs ? ` · updated ${ago(r.asOfMs, s.nowMs)}` : '';
    const routesText = `${r.routes} route${r.routes === 1 ? '' : 's'} · last ${rangeText(r.rangeS)}`;
    setText(remoteMeta, r.state === 'error' ? `error: ${r.error ?? 'no answer'}${r.asOfMs ? ` · showing figures${asOf}` : ''}` : r.state === 'pending' ? 'asking Prometheus…' : `ok · ${routesText}${asOf}`);
    toggleClass(remoteMeta, 'bad', r.state === 'error');
    setAttr(remoteLine, 'title', `Route figures computed by the Prometheus at ${r.url} over the last ${rangeText(r.rangeS)}; switch the route table to “${r.label}” to see them.`);
  }
}

// ---- empty state ---------------------------------------------------------------------------------

const emptyEndpoint = el('code', {});
const empty = el(
  'section',
  { class: 'empty', 'data-testid': 'empty-state', 'aria-label': 'Getting started' },
  el('h2', {}, 'No requests yet'),
  el('p', {}, 'Routelens shows your API here as soon as it handles requests. Three ways to connect:'),
  el(
    'ol',
    {},
    el('li', {}, el('div', {}, 'Press F5 on a FastAPI, Flask or Django app: it reports with no code change.'), el('div', { class: 'tools' }, commandButton('Start Debugging', 'debugHelp', 'Start debugging (F5)', 'primary'), commandButton('Copy Agent Environment', 'copyAgentEnv', 'For an app started outside VS Code: copy the environment that turns the agent on'))),
    el('li', {}, el('div', {}, 'Point any OpenTelemetry SDK at ', emptyEndpoint, ' with OTEL_EXPORTER_OTLP_ENDPOINT (it is also the SDKs’ default).'), el('div', { class: 'tools' }, commandButton('Copy Endpoint', 'copyEndpoint', 'Copy the OTLP endpoint'))),
    el('li', {}, el('div', {}, 'Serving Prometheus metrics? Add the /metrics URL to routelens.prometheus.targets.'), el('div', { class: 'tools' }, commandButton('Open Setting', 'prometheusSettings', 'Open the Prometheus settings'))),
  ),
);

// ---- totals and charts ---------------------------------------------------------------------------

const tile = (label: string, id: string) => {
  const value = el('div', { class: 'tile-value', 'data-testid': id }, '–');
  return { value, node: el('div', { class: 'tile' }, value, el('div', { class: 'tile-label' }, label)) };
};
const tiles = { rps: tile('req/s', 'total-rps'), p95: tile('p95', 'total-p95'), errors: tile('errors', 'total-errors'), requests: tile('requests', 'total-requests') };
const tilesSection = el('section', { class: 'tiles', 'aria-label': 'Totals' }, tiles.rps.node, tiles.p95.node, tiles.errors.node, tiles.requests.node);

let theme = readTheme();
const charts = {
  requests: new TimeChart({ id: 'requests', title: 'Requests/s', lines: [{ label: 'req/s', colour: 'blue', fill: true }], format: fmtRate, tickFormat: (v) => (Number.isInteger(v) ? String(v) : fmtRate(v)), minTop: 1 }, theme),
  latency: new TimeChart({ id: 'latency', title: 'Latency', lines: [{ label: 'p50', colour: 'green' }, { label: 'p95', colour: 'orange' }, { label: 'p99', colour: 'red' }], format: fmtMs, minTop: 1, spanGaps: false }, theme),
  errors: new TimeChart({ id: 'errors', title: 'Error rate', lines: [{ label: 'errors', colour: 'red', fill: true }], format: fmtPct, minTop: 0.05, maxTop: 1 }, theme),
  memory: new TimeChart({ id: 'memory', title: 'Memory', description: 'Resident memory of the app’s processes', lines: [{ label: 'resident', colour: 'purple', fill: true }], format: fmtBytes, spanGaps: true, half: true, height: 64 }, theme),
  cpu: new TimeChart({ id: 'cpu', title: 'CPU', description: 'CPU of the app’s processes, as a share of one core', lines: [{ label: 'cpu', colour: 'yellow', fill: true }], format: fmtPct, minTop: 0.1, spanGaps: true, half: true, height: 64 }, theme),
};
const chartsSection = el('section', { class: 'charts', 'aria-label': 'Charts' }, ...Object.values(charts).map((c) => c.root));
onThemeChange((t) => {
  theme = t;
  for (const c of Object.values(charts)) c.setTheme(t);
});

function updateCharts(s: DashboardState): void {
  const { fromSec, toSec } = s.charts;
  charts.requests.update(s.charts.requests, fromSec, toSec);
  charts.latency.update(s.charts.latency, fromSec, toSec);
  charts.errors.update(s.charts.errors, fromSec, toSec);
  for (const key of ['memory', 'cpu'] as const) {
    const data = s.charts[key];
    charts[key].root.hidden = !data;
    if (data) charts[key].update(data, fromSec, toSec);
  }
}

// ---- routes, errors, traces ----------------------------------------------------------------------

const routes = new RoutesTable(ui, (r) => post({ type: 'openRoute', service: r.service, method: r.method, route: r.route }), save);

const errorsTitle = el('h3', {}, 'Recent errors');
const errorsList = el('ul', { 'data-testid': 'errors-list', class: 'list' });
const errorsSection = el('section', { class: 'errors', 'aria-label': 'Recent errors' }, errorsTitle, errorsList);
const errorItems = new Map<string, HTMLLIElement>();

interface ErrorItem {
  type: HTMLElement;
  count: HTMLElement;
  msg: HTMLElement;
  meta: HTMLElement;
  trace: HTMLButtonElement;
  row: ErrorRow;
}
const errorParts = new WeakMap<Element, ErrorItem>();

function createErrorItem(e: ErrorRow): HTMLLIElement {
  const li = el('li', { tabindex: '0' });
  const parts: ErrorItem = {
    type: el('span', { class: 'err-type' }),
    count: el('span', { class: 'count' }),
    msg: el('div', { class: 'err-msg' }),
    meta: el('div', { class: 'err-meta' }),
    trace: el('button', { type: 'button', class: 'link', title: 'Show the trace of the latest occurrence' }, 'trace'),
    row: e,
  };
  parts.trace.addEventListener('click', (ev) => {
    ev.stopPropagation();
    if (parts.row.traceId) post({ type: 'openTrace', traceId: parts.row.traceId });
  });
  li.append(el('div', { class: 'err-title' }, parts.type, parts.count), parts.msg, el('div', { class: 'err-foot' }, parts.meta, parts.trace));
  onActivate(li, () => post({ type: 'openError', fingerprint: parts.row.fingerprint }));
  errorParts.set(li, parts);
  return li;
}

function updateErrors(s: DashboardState): void {
  errorsSection.hidden = s.errors.length === 0;
  setText(errorsTitle, `Recent errors (${s.errors.length})`);
  reconcile(errorsList, s.errors.slice(0, 20), errorItems, {
    key: (e) => e.fingerprint,
    create: createErrorItem,
    update: (li, e) => {
      const p = errorParts.get(li)!;
      p.row = e;
      setText(p.type, e.type);
      setText(p.count, `×${e.count}`);
      setText(p.msg, e.message);
      setText(p.meta, [e.route, e.where, ago(e.lastSeenMs, s.nowMs)].filter(Boolean).join(' · '));
      p.trace.hidden = !e.traceId;
      setAttr(li, 'title', e.where ? `Open ${e.where}, where it was raised` : e.message);
    },
  });
}

const tracesList = el('ul', { 'data-testid': 'traces-list', class: 'list' });
const tracesSection = el('section', { class: 'traces', 'aria-label': 'Slow and failed requests' }, el('h3', {}, 'Slow and failed requests'), tracesList);
const traceItems = new Map<string, HTMLLIElement>();
const traceParts = new WeakMap<Element, { name: HTMLElement; dur: HTMLElement; meta: HTMLElement; row: TraceRow }>();

function updateTraces(s: DashboardState): void {
  tracesSection.hidden = s.traces.length === 0;
  reconcile(tracesList, s.traces, traceItems, {
    key: (t) => t.traceId,
    create: (t) => {
      const li = el('li', { tabindex: '0', class: 'trace-item' });
      const parts = { name: el('span', { class: 'trace-name' }), dur: el('span', { class: 'trace-dur' }), meta: el('div', { class: 'err-meta' }), row: t };
      li.append(el('div', { class: 'err-title' }, parts.name, parts.dur), parts.meta);
      onActivate(li, () => post({ type: 'openTrace', traceId: parts.row.traceId }));
      traceParts.set(li, parts);
      return li;
    },
    update: (li, t) => {
      const p = traceParts.get(li)!;
      p.row = t;
      setText(p.name, `${t.method} ${t.route}`);
      setText(p.dur, fmtMs(t.durationMs));
      toggleClass(li, 'failed', t.error);
      const why = [t.error ? 'failed' : '', t.slow ? 'slower than p95' : ''].filter(Boolean).join(', ');
      setText(p.meta, [t.statusCode ? String(t.statusCode) : '', why, ago(t.receivedMs, s.nowMs)].filter(Boolean).join(' · '));
      setAttr(li, 'title', `Show the trace of this request (${t.service})`);
    },
  });
}

// ---- service map ---------------------------------------------------------------------------------

const mapList = el('ul', { 'data-testid': 'service-map', class: 'list map' });
const mapSection = el('section', { class: 'service-map', 'aria-label': 'Service map' }, el('h3', {}, 'Service map'), el('div', { class: 'caption' }, 'Calls out of each service over the window: to databases, hosts and the services that answered.'), mapList);
const mapItems = new Map<string, HTMLLIElement>();
const mapParts = new WeakMap<Element, { from: HTMLElement; kind: HTMLElement; to: HTMLElement; figs: HTMLElement }>();
const KIND_BADGE: Record<MapEdgeRow['toKind'], string> = { db: 'DB', http: 'HTTP', service: 'SVC' };

function updateMap(s: DashboardState): void {
  mapSection.hidden = s.serviceMap.length === 0;
  reconcile(mapList, s.serviceMap, mapItems, {
    key: (e) => `${e.from}\u0000${e.toKind}\u0000${e.to}`,
    create: () => {
      const li = el('li', { tabindex: '0', class: 'edge' });
      const parts = { from: el('span', { class: 'edge-from' }), kind: el('span', { class: 'badge' }), to: el('span', { class: 'edge-to' }), figs: el('div', { class: 'err-meta' }) };
      li.append(el('div', { class: 'edge-line' }, parts.from, ' → ', parts.kind, ' ', parts.to), parts.figs);
      mapParts.set(li, parts);
      return li;
    },
    update: (li, e) => {
      const p = mapParts.get(li)!;
      setText(p.from, e.from);
      setText(p.kind, KIND_BADGE[e.toKind]);
      setAttr(p.kind, 'class', `badge badge-${e.toKind}`);
      setText(p.to, e.to);
      setText(p.figs, `${fmtRate(e.rps)} calls/s · p95 ${fmtMs(e.p95Ms)} · ${fmtPct(e.errorRate)} errors`);
      toggleClass(li, 'failed', e.errorRate > 0);
      setAttr(li, 'aria-label', `${e.from} calls ${e.toKind === 'db' ? 'database' : e.toKind === 'http' ? 'host' : 'service'} ${e.to}: ${fmtRate(e.rps)} calls per second, p95 ${fmtMs(e.p95Ms)}, ${fmtPct(e.errorRate)} errors`);
      },
    });
  }

// ---- test runs: requests from test clients, kept out of the figures above ---------------------------

const testsTitle = el('h3', {}, 'Test runs');
const testsList = el('ul', { 'data-testid': 'tests-list', class: 'list' });
const testsSection = el('section', { class: 'tests', 'aria-label': 'Test runs' }, testsTitle, el('div', { class: 'caption' }, 'Requests made by test clients; not counted in the figures above.'), testsList);
const testItems = new Map<string, HTMLLIElement>();
const testParts = new WeakMap<Element, { name: HTMLElement; slowest: HTMLElement; meta: HTMLElement; row: TestRow }>();

function updateTests(s: DashboardState): void {
  const tests = s.tests ?? [];
  testsSection.hidden = tests.length === 0;
  setText(testsTitle, `Test runs (${tests.length})`);
  reconcile(testsList, tests, testItems, {
    key: (t) => `${t.service}\u0000${t.id}`,
    create: (t) => {
      const li = el('li', { tabindex: '0', class: 'trace-item' });
      const parts = { name: el('span', { class: 'trace-name' }), slowest: el('span', { class: 'trace-dur' }), meta: el('div', { class: 'err-meta' }), row: t };
      li.append(el('div', { class: 'err-title' }, parts.name, parts.slowest), parts.meta);
      onActivate(li, () => post({ type: 'openTrace', traceId: parts.row.slowestTraceId }));
      testParts.set(li, parts);
      return li;
    },
    update: (li, t) => {
      const p = testParts.get(li)!;
      p.row = t;
      setText(p.name, t.id);
      setText(p.slowest, fmtMs(t.slowestMs));
      toggleClass(li, 'failed', t.errors > 0);
      const counts = `${t.requests} request${t.requests === 1 ? '' : 's'}${t.errors ? `, ${t.errors} failed` : ''}`;
      setText(p.meta, [counts, s.services.length > 1 ? t.service : '', ago(t.lastSeenMs, s.nowMs)].filter(Boolean).join(' · '));
      setAttr(li, 'title', `Show the slowest request of ${t.id}`);
    },
  });
}

// ---- metrics explorer ------------------------------------------------------------------------------

const targetsList = el('ul', { class: 'targets', 'data-testid': 'targets-list' });
const metricSearch = el('input', { type: 'search', placeholder: 'Search metrics by name or label', 'aria-label': 'Search metrics', 'data-testid': 'metric-search' });
const metricCount = el('div', { class: 'caption' });
const metricList = el('ul', { class: 'metric-list', 'data-testid': 'metric-list' });
const pinnedBox = el('div', { class: 'pinned-charts', 'data-testid': 'pinned-charts' });
const metricsSection = el('section', { class: 'metrics', 'aria-label': 'Metrics' }, el('h3', {}, 'Metrics'), targetsList, metricSearch, metricCount, metricList, pinnedBox);
let metricTimer: number | undefined;
metricSearch.addEventListener('input', () => {
  // Ask the host once typing pauses, not on every key.
  if (metricTimer !== undefined) clearTimeout(metricTimer);
  metricTimer = window.setTimeout(() => post({ type: 'metricFilter', text: metricSearch.value }), 200);
});
const pinnedCharts = new Map<string, TimeChart>();

function fmtValue(v: number | null, unit?: string): string {
  if (v === null) return '–';
  if (unit === 'By') return fmtBytes(v);
  if (unit === 's') return fmtMs(v * 1000);
  if (unit === 'ms') return fmtMs(v);
  return Math.abs(v) >= 1000 || Number.isInteger(v) ? String(Math.round(v)) : v.toPrecision(3);
}

function updateMetrics(s: DashboardState): void {
  const m = s.metrics;
  metricsSection.hidden = !m || (m.targets.length === 0 && m.total === 0 && m.filter === '');
  if (!m) return;
  targetsList.replaceChildren(
    ...m.targets.map((t) =>
      el(
        'li',
        { class: `target ${t.state}`, title: t.lastError ?? t.url },
        el('span', { class: `dot ${t.state === 'up' ? 'ok' : t.state === 'down' ? 'bad' : 'busy'}`, 'aria-hidden': 'true' }),
        el('span', { class: 'target-url' }, t.url),
        el('span', { class: 'target-meta' }, t.state === 'down' ? `down: ${t.lastError ?? 'no answer'}` : `${t.state} · ${t.series} series${t.durationMs !== undefined ? ` · ${fmtMs(t.durationMs)}` : ''}`),
      ),
    ),
  );
  if (document.activeElement !== metricSearch && metricSearch.value !== m.filter) metricSearch.value = m.filter;
  setText(metricCount, m.total > m.matches.length ? `${m.matches.length} of ${m.total} series; refine the search` : `${m.total} series`);
  metricList.replaceChildren(
    ...m.matches.map((r) => {
      const pin = el('button', { type: 'button', class: r.pinned ? 'pin pinned' : 'pin', 'aria-pressed': String(r.pinned), title: r.pinned ? 'Unpin this series' : 'Pin this series as a live chart' }, r.pinned ? 'Unpin' : 'Pin');
      onActivate(pin, () => post({ type: 'pinMetric', key: r.key, pinned: !r.pinned }));
      return el('li', {}, el('div', { class: 'metric-name' }, r.name, el('span', { class: 'metric-value' }, fmtValue(r.last, r.unit))), el('div', { class: 'metric-labels' }, [r.service, r.labels].filter(Boolean).join(' · ')), pin);
    }),
  );
  const keep = new Set(m.pinned.map((p) => p.key));
  for (const [key, chart] of pinnedCharts) {
    if (!keep.has(key)) {
      chart.root.remove();
      pinnedCharts.delete(key);
    }
  }
  for (const p of m.pinned) {
    let chart = pinnedCharts.get(p.key);
    if (!chart) {
      chart = new TimeChart({ id: `pinned-${pinnedCharts.size}`, title: p.title, lines: [{ label: 'value', colour: 'blue', fill: true }], format: (v) => fmtValue(v, p.unit), spanGaps: true, height: 64 }, theme);
      pinnedCharts.set(p.key, chart);
      pinnedBox.append(chart.root);
    }
    if (p.chart) chart.update(p.chart, s.charts.fromSec, s.charts.toSec);
  }
}
onThemeChange((t) => {
  for (const c of pinnedCharts.values()) c.setTheme(t);
});

// ---- page ----------------------------------------------------------------------------------------

const content = el('div', { class: 'content' }, tilesSection, chartsSection, routes.root, errorsSection, tracesSection, testsSection, mapSection, metricsSection);
content.hidden = true;
empty.hidden = true;
document.getElementById('app')!.append(header, upstreamSection, empty, content);

let restoredScroll = false;
let lastSeq = -1;
function update(s: DashboardState): void {
  updateHeader(s);
  updateUpstream(s);
  setText(emptyEndpoint, s.collector.endpoint);
  const hasData = s.routes.length > 0 || s.errors.length > 0 || (s.tests?.length ?? 0) > 0 || s.charts.memory !== undefined || s.charts.cpu !== undefined || (s.metrics?.total ?? 0) > 0 || (s.metrics?.targets.length ?? 0) > 0;
  empty.hidden = hasData;
  content.hidden = !hasData;
  if (!hasData) return;
  const t = s.totals;
  setText(tiles.rps.value, fmtRate(t.rps));
  setText(tiles.p95.value, fmtMs(t.p95Ms));
  setText(tiles.errors.value, fmtPct(t.errorRate));
  setText(tiles.requests.value, String(t.requests));
  updateErrors(s);
  updateTests(s);
  updateMetrics(s);
  // Routes, charts and the slow list change once a second; the other updates leave them be.
  if (s.seq !== lastSeq) {
    lastSeq = s.seq;
    updateCharts(s);
    routes.root.hidden = s.routes.length === 0;
    routes.update(s.routes, s.services.length > 1, s.windowSec, s.upstream?.remote ? { label: s.upstream.remote.label, rangeS: s.upstream.remote.rangeS } : undefined);
    updateTraces(s);
    updateMap(s);
  }
  if (!restoredScroll) {
    restoredScroll = true;
    // Shown again after being hidden: back to where the reader was.
    if (ui.scrollY > 0) window.scrollTo(0, ui.scrollY);
  }
}

let scrollSave: number | undefined;
window.addEventListener('scroll', () => {
  if (scrollSave !== undefined) return;
  scrollSave = window.setTimeout(() => {
    scrollSave = undefined;
    ui.scrollY = window.scrollY;
    save();
  }, 200);
});

window.addEventListener('message', (ev: MessageEvent) => {
  if (!isHostToDashboard(ev.data)) return;
  update(ev.data.state);
});

post({ type: 'ready' });
