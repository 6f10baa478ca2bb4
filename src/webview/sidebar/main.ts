/**
 * The sidebar: collector status, totals, the routes table and recent errors. Every string from
 * telemetry goes into the DOM through textContent or attributes, never as HTML.
 */
import { isHostToSidebar, WINDOWS, type RouteRow, type SidebarState, type SidebarToHost } from '../../shared/sidebarProtocol';

declare function acquireVsCodeApi(): { postMessage(m: SidebarToHost): void; getState(): unknown; setState(s: unknown): void };

const vscode = acquireVsCodeApi();
type SortKey = 'route' | 'rps' | 'p50Ms' | 'p95Ms' | 'p99Ms' | 'errorRate';
interface ViewState {
  sort: SortKey;
  desc: boolean;
  filter: string;
}
const saved = vscode.getState() as Partial<ViewState> | undefined;
const ui: ViewState = { sort: saved?.sort ?? 'rps', desc: saved?.desc ?? true, filter: saved?.filter ?? '' };
let last: SidebarState | undefined;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return e;
}

function post(m: SidebarToHost): void {
  vscode.postMessage(m);
}

export function fmtMs(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '–';
  if (v >= 1000) return `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)} s`;
  if (v >= 10) return `${v.toFixed(0)} ms`;
  return `${v.toFixed(1)} ms`;
}

export function fmtRate(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function fmtPct(v: number): string {
  if (v === 0) return '0%';
  const p = v * 100;
  return p < 0.1 ? '<0.1%' : `${p < 10 ? p.toFixed(1) : p.toFixed(0)}%`;
}

/** Table cells: the unit is in the caption, so figures stay short enough for a narrow sidebar. */
export function fmtMsShort(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '–';
  if (v >= 10000) return `${(v / 1000).toFixed(0)}s`;
  if (v >= 1000) return `${(v / 1000).toFixed(1)}s`;
  if (v >= 10) return v.toFixed(0);
  return v.toFixed(1);
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

function sparkline(values: number[]): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  const w = 60;
  const h = 16;
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('class', 'spark');
  svg.setAttribute('aria-hidden', 'true');
  const max = Math.max(1, ...values);
  const n = Math.max(1, values.length - 1);
  const pts = values.map((v, i) => `${((i / n) * w).toFixed(1)},${(h - 1 - (v / max) * (h - 2)).toFixed(1)}`).join(' ');
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', pts);
  svg.append(line);
  return svg;
}

function button(label: string, command: Extract<SidebarToHost, { type: 'command' }>['command'], title: string, cls = ''): HTMLButtonElement {
  const b = el('button', { type: 'button', title, class: cls }, label);
  b.addEventListener('click', () => post({ type: 'command', command }));
  return b;
}

function header(s: SidebarState): HTMLElement {
  const c = s.collector;
  const dotClass = c.state === 'listening' ? 'ok' : c.state === 'starting' || c.state === 'stopped' ? 'busy' : 'bad';
  const stateText = { listening: 'Listening', starting: 'Starting…', stopped: 'Stopped', portInUse: 'Port in use', error: 'Not running' }[c.state];
  const head = el('header', { class: 'head' });
  const line = el('div', { class: 'status-line' }, el('span', { class: `dot ${dotClass}`, 'aria-hidden': 'true' }), el('span', { class: 'state', 'data-testid': 'collector-state' }, stateText), el('code', { class: 'endpoint', title: 'OTLP/HTTP and agent endpoint' }, c.endpoint));
  head.append(line);
  if (c.message) head.append(el('p', { class: 'message', role: 'alert' }, c.message));
  const tools = el('div', { class: 'tools' });
  const win = el('select', { 'aria-label': 'Statistics window', title: 'Statistics window' });
  for (const w of WINDOWS) {
    const o = el('option', { value: String(w) }, w < 120 ? `${w / 60} min` : `${w / 60} min`);
    if (w === s.windowSec) o.selected = true;
    win.append(o);
  }
  win.addEventListener('change', () => post({ type: 'setWindow', seconds: Number(win.value) }));
  tools.append(win, button(s.paused ? 'Resume' : 'Pause', 'togglePause', s.paused ? 'Resume live updates' : 'Pause live updates'), button('Clear', 'clearData', 'Clear all data'), button('Logs', 'showLogs', 'Show the Routelens log'));
  if (c.state === 'portInUse' || c.state === 'error') tools.append(button('Restart', 'restartCollector', 'Restart the collector', 'primary'));
  head.append(tools);
  if (s.services.length) head.append(el('div', { class: 'services', 'data-testid': 'services' }, `Services: ${s.services.join(', ')}`));
  return head;
}

function totals(s: SidebarState): HTMLElement {
  const t = s.totals;
  const tile = (label: string, value: string, id: string) => el('div', { class: 'tile' }, el('div', { class: 'tile-value', 'data-testid': id }, value), el('div', { class: 'tile-label' }, label));
  return el('section', { class: 'tiles', 'aria-label': 'Totals' }, tile('req/s', fmtRate(t.rps), 'total-rps'), tile('p95', fmtMs(t.p95Ms), 'total-p95'), tile('errors', fmtPct(t.errorRate), 'total-errors'), tile('requests', String(t.requests), 'total-requests'));
}

function emptyState(): HTMLElement {
  return el(
    'section',
    { class: 'empty', 'data-testid': 'empty-state' },
    el('h2', {}, 'No requests yet'),
    el('p', {}, 'Routelens shows your API here as soon as it handles requests. Three ways to connect:'),
    el('ol', {},
      el('li', {}, 'Press F5 on a FastAPI, Flask or Django app: it is instrumented with no code change.'),
      el('li', {}, 'Point any OpenTelemetry SDK at the collector: set OTEL_EXPORTER_OTLP_ENDPOINT to the endpoint above.'),
      el('li', {}, 'Add your /metrics URL to the setting routelens.prometheus.targets.'),
    ),
    el('div', { class: 'tools' }, button('Start Debugging', 'debugHelp', 'Start debugging (F5)', 'primary'), button('Copy Endpoint', 'copyEndpoint', 'Copy the OTLP endpoint')),
  );
}

function sortRows(rows: RouteRow[]): RouteRow[] {
  const dir = ui.desc ? -1 : 1;
  const key = ui.sort;
  return [...rows].sort((a, b) => {
    if (key === 'route') return dir * `${a.route} ${a.method}`.localeCompare(`${b.route} ${b.method}`);
    const av = a[key] ?? -1;
    const bv = b[key] ?? -1;
    return dir * (av - bv) || a.route.localeCompare(b.route);
  });
}

function routesTable(s: SidebarState): HTMLElement {
  const section = el('section', { class: 'routes', 'aria-label': 'Routes' });
  const filter = el('input', { type: 'search', placeholder: 'Filter routes', 'aria-label': 'Filter routes', value: ui.filter });
  filter.addEventListener('input', () => {
    ui.filter = filter.value;
    vscode.setState(ui);
    renderTable();
  });
  const windowLabel = s.windowSec < 120 ? `${s.windowSec} s` : `${s.windowSec / 60} min`;
  section.append(el('h3', {}, 'Routes'), el('div', { class: 'caption' }, `Latency in ms over the last ${windowLabel}; the line shows requests in the last minute.`), filter);
  // Two lines per route (name, then figures under the column headers) so the table reads well in
  // a narrow sidebar without cutting routes mid-word.
  const table = el('table', { 'data-testid': 'routes-table' });
  const cols: [SortKey, string][] = [['route', 'Route'], ['rps', 'req/s'], ['p50Ms', 'p50'], ['p95Ms', 'p95'], ['p99Ms', 'p99'], ['errorRate', 'err']];
  const headRow = el('tr');
  for (const [key, label] of cols) {
    const th = el('th', { scope: 'col', tabindex: '0', 'aria-sort': ui.sort === key ? (ui.desc ? 'descending' : 'ascending') : 'none', class: key === 'route' ? 'left' : '' }, label + (ui.sort === key ? (ui.desc ? ' ▾' : ' ▴') : ''));
    const sort = () => {
      if (ui.sort === key) ui.desc = !ui.desc;
      else {
        ui.sort = key;
        ui.desc = key !== 'route';
      }
      vscode.setState(ui);
      render();
    };
    th.addEventListener('click', sort);
    th.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), sort()));
    headRow.append(th);
  }
  table.append(el('thead', {}, headRow));
  section.append(table);
  const multiService = s.services.length > 1;
  const renderTable = () => {
    for (const old of [...table.tBodies]) old.remove();
    const f = ui.filter.toLowerCase();
    for (const r of sortRows(s.routes)) {
      if (f && !`${r.method} ${r.route} ${r.service}`.toLowerCase().includes(f)) continue;
      const body = el('tbody', { tabindex: '0', class: `route-row${r.errorRate > 0 ? ' has-errors' : ''}`, 'data-route': r.route, title: `${r.method} ${r.route} (${r.service}): ${r.count} requests${r.hasCode ? ' · click to open the handler' : ''}` });
      const open = () => post({ type: 'openRoute', service: r.service, method: r.method, route: r.route });
      body.addEventListener('click', open);
      body.addEventListener('keydown', (e) => e.key === 'Enter' && open());
      const name = el('td', { colspan: '6', class: 'left route' }, el('span', { class: `method m-${r.method.toLowerCase()}` }, r.method), ' ', el('span', { class: 'path' }, r.route));
      if (multiService) name.append(' ', el('span', { class: 'svc' }, r.service));
      body.append(
        el('tr', { class: 'name' }, name),
        el('tr', { class: 'figures' }, el('td', { class: 'left spark-cell' }, sparkline(r.spark)), el('td', {}, fmtRate(r.rps)), el('td', {}, fmtMsShort(r.p50Ms)), el('td', {}, fmtMsShort(r.p95Ms)), el('td', {}, fmtMsShort(r.p99Ms)), el('td', { class: r.errorRate > 0 ? 'err' : '' }, fmtPct(r.errorRate))),
      );
      table.append(body);
    }
  };
  renderTable();
  return section;
}

function errorsList(s: SidebarState): HTMLElement {
  const section = el('section', { class: 'errors', 'aria-label': 'Recent errors' }, el('h3', {}, `Recent errors (${s.errors.length})`));
  const list = el('ul', { 'data-testid': 'errors-list' });
  for (const e of s.errors.slice(0, 20)) {
    const li = el('li', { tabindex: '0', title: e.where ? `Open ${e.where}` : e.message });
    const open = () => post({ type: 'openError', fingerprint: e.fingerprint });
    li.addEventListener('click', open);
    li.addEventListener('keydown', (ev) => ev.key === 'Enter' && open());
    li.append(
      el('div', { class: 'err-title' }, el('span', { class: 'err-type' }, e.type), el('span', { class: 'count' }, `×${e.count}`)),
      el('div', { class: 'err-msg' }, e.message),
      el('div', { class: 'err-meta' }, [e.route, e.where, ago(e.lastSeenMs)].filter(Boolean).join(' · ')),
    );
    list.append(li);
  }
  section.append(list);
  return section;
}

function render(): void {
  const app = document.getElementById('app')!;
  if (!last) return;
  const focusedFilter = document.activeElement instanceof HTMLInputElement && document.activeElement.type === 'search';
  const parts: HTMLElement[] = [header(last)];
  if (last.routes.length === 0 && last.errors.length === 0) parts.push(emptyState());
  else {
    parts.push(totals(last));
    if (last.routes.length) parts.push(routesTable(last));
    if (last.errors.length) parts.push(errorsList(last));
  }
  app.replaceChildren(...parts);
  if (focusedFilter) {
    const input = app.querySelector<HTMLInputElement>('input[type=search]');
    input?.focus();
    input?.setSelectionRange(input.value.length, input.value.length);
  }
}

window.addEventListener('message', (ev: MessageEvent) => {
  if (!isHostToSidebar(ev.data)) return;
  last = ev.data.state;
  render();
});

post({ type: 'ready' });
