/**
 * The routes table: sortable, filterable, a sparkline per route. The row elements stay where they
 * are and take the data of the route now at their position: moving elements would make the
 * browser lay out and paint every moved row again, and a live sort moves most of them each second.
 * While the pointer or the focus is in the table the order holds still, so a row keeps its route
 * as it is being clicked. Only the first rows in the chosen order are shown (more on request, the
 * filter finds any route), and rows scrolled out of view are brought up to date when they come
 * back into view: an update costs what is on screen, not what the API has.
 */
import { remoteRows, type RouteRow } from '../../features/dashboard/protocol';
import { el, onActivate, setAttr, setText, svg, toggleClass } from '../shared/dom';
import { fmtMsShort, fmtPct, fmtRate, windowLabel } from '../shared/format';

export type SortKey = 'route' | 'rps' | 'p50Ms' | 'p95Ms' | 'p99Ms' | 'errorRate' | 'change';
export const SORT_KEYS: readonly SortKey[] = ['route', 'rps', 'p50Ms', 'p95Ms', 'p99Ms', 'errorRate', 'change'];

export interface TableUi {
  sort: SortKey;
  desc: boolean;
  filter: string;
  /** Whose figures the table shows: this machine's, or the remote Prometheus's (absent: local). */
  source?: 'local' | 'remote';
}

/** The remote source as the table names it (`prod`) and the range its figures cover. */
export interface RemoteSourceInfo {
  label: string;
  rangeS: number;
}

function rangeLabel(s: number): string {
  return s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`;
}

interface Row {
  body: HTMLTableSectionElement;
  method: HTMLElement;
  path: HTMLElement;
  svc: HTMLElement;
  paused: HTMLElement;
  cells: HTMLTableCellElement[];
  line: SVGPolylineElement;
  /** The stacked bar of where the time went: own code, databases, HTTP, downstream services. */
  bar: HTMLElement;
  segs: HTMLElement[];
  /** The newest data, applied to the DOM once the row is visible. */
  data: RouteRow;
  applied: RouteRow | undefined;
  multiService: boolean;
}

const COLUMNS: [SortKey, string, string][] = [
  ['route', 'Route', 'Sort by route'],
  ['rps', 'req/s', 'Sort by requests per second'],
  ['p50Ms', 'p50', 'Sort by median latency'],
  ['p95Ms', 'p95', 'Sort by 95th percentile latency'],
  ['p99Ms', 'p99', 'Sort by 99th percentile latency'],
  ['errorRate', 'err', 'Sort by error rate'],
  ['change', 'Δ run', 'Sort by the significant latency change since the baseline run'],
];

const BAR_KINDS = ['code', 'db', 'http', 'service'] as const;
const BAR_LABELS: Record<(typeof BAR_KINDS)[number], string> = { code: 'own code', db: 'databases', http: 'HTTP', service: 'services' };

/** Rows shown before "Show more": a glance needs the top of the list, and a table's layout grows with its rows. */
export const PAGE_ROWS = 50;
const SPARK_W = 60;
const SPARK_H = 16;

export function routeKey(r: RouteRow): string {
  return `${r.service}\u0000${r.method}\u0000${r.route}`;
}

export function sortRoutes(rows: readonly RouteRow[], sort: SortKey, desc: boolean): RouteRow[] {
  const dir = desc ? -1 : 1;
  return [...rows].sort((a, b) => {
    if (sort === 'route') return dir * (a.route.localeCompare(b.route) || a.method.localeCompare(b.method) || a.service.localeCompare(b.service));
    const av = sort === 'change' ? (a.change?.deltaMs ?? 0) : (a[sort] ?? -1);
    const bv = sort === 'change' ? (b.change?.deltaMs ?? 0) : (b[sort] ?? -1);
    return dir * (av - bv) || a.route.localeCompare(b.route) || a.method.localeCompare(b.method) || a.service.localeCompare(b.service);
  });
}

export function matchesFilter(r: RouteRow, filter: string): boolean {
  if (!filter) return true;
  return `${r.method} ${r.route} ${r.service}`.toLowerCase().includes(filter.toLowerCase());
}

export class RoutesTable {
  readonly root: HTMLElement;
  private readonly table: HTMLTableElement;
  private readonly thead: HTMLTableSectionElement;
  private readonly heads = new Map<SortKey, HTMLTableCellElement>();
  private readonly caption: HTMLElement;
  private readonly count: HTMLElement;
  private readonly filterInput: HTMLInputElement;
  private readonly more: HTMLButtonElement;
  /** The "Local | prod" switch, shown only while a remote source is configured. */
  private readonly sourceSwitch: HTMLElement;
  private readonly localButton: HTMLButtonElement;
  private readonly remoteButton: HTMLButtonElement;
  private limit = PAGE_ROWS;
  /** The pointer or the focus is in the table: keep the rows where they are. */
  private held = false;
  /** Row elements in table order. */
  private readonly rows: Row[] = [];
  private readonly byBody = new WeakMap<Element, Row>();
  private readonly visible = new WeakSet<Element>();
  private readonly observer: IntersectionObserver;
  private last: { routes: RouteRow[]; multiService: boolean; windowSec: number; remote?: RemoteSourceInfo } = { routes: [], multiService: false, windowSec: 60 };

  constructor(
    private readonly ui: TableUi,
    private readonly onOpen: (r: RouteRow) => void,
    private readonly onUiChange: () => void,
  ) {
    this.count = el('span', { class: 'count' });
    this.caption = el('div', { class: 'caption' });
    this.filterInput = el('input', { type: 'search', placeholder: 'Filter routes', 'aria-label': 'Filter routes' });
    this.filterInput.value = ui.filter;
    this.filterInput.addEventListener('input', () => {
      this.ui.filter = this.filterInput.value;
      this.limit = PAGE_ROWS;
      this.onUiChange();
      this.render(true);
    });
    // Roles spelled out: the stylesheet lays the table out as a grid, which drops the implicit ones.
    this.table = el('table', { 'data-testid': 'routes-table', 'aria-label': 'Routes', role: 'table' });
    const headRow = el('tr', { role: 'row' });
    for (const [key, label, title] of COLUMNS) {
      const th = el('th', { scope: 'col', tabindex: '0', title, role: 'columnheader', class: key === 'route' ? 'left' : '' }, label);
      onActivate(th, () => this.sortBy(key));
      this.heads.set(key, th);
      headRow.append(th);
    }
    this.thead = el('thead', { role: 'rowgroup' }, headRow);
    this.table.append(this.thead);
    this.more = el('button', { type: 'button', class: 'link more', 'data-testid': 'routes-more' });
    this.more.addEventListener('click', () => {
      this.limit += PAGE_ROWS;
      this.render();
    });
    const hold = (on: boolean) => {
      if (this.held === on) return;
      this.held = on;
      if (!on) this.render();
    };
    this.table.addEventListener('pointerenter', () => hold(true));
    this.table.addEventListener('pointerleave', () => hold(this.table.contains(document.activeElement)));
    this.table.addEventListener('focusin', () => hold(true));
    this.table.addEventListener('focusout', (e) => hold(this.table.matches(':hover') || this.table.contains(e.relatedTarget as Node | null)));
    this.localButton = el('button', { type: 'button', class: 'src-btn', 'data-testid': 'source-local', title: 'Figures measured on this machine' }, 'Local');
    this.remoteButton = el('button', { type: 'button', class: 'src-btn', 'data-testid': 'source-remote' });
    this.localButton.addEventListener('click', () => this.setSource('local'));
    this.remoteButton.addEventListener('click', () => this.setSource('remote'));
    this.sourceSwitch = el('div', { class: 'source-switch', role: 'group', 'aria-label': 'Figures from', 'data-testid': 'routes-source' }, this.localButton, this.remoteButton);
    this.sourceSwitch.hidden = true;
    this.root = el('section', { class: 'routes', 'aria-label': 'Routes' }, el('div', { class: 'routes-head' }, el('h3', {}, 'Routes ', this.count), this.sourceSwitch), this.caption, this.filterInput, this.table, this.more);
    this.observer = new IntersectionObserver((entries) => {
      for (const e of entries) {
        if (e.isIntersecting) {
          this.visible.add(e.target);
          const row = this.byBody.get(e.target);
          if (row) this.apply(row);
        } else this.visible.delete(e.target);
      }
    });
    this.paintHeads();
  }

  update(routes: RouteRow[], multiService: boolean, windowSec: number, remote?: RemoteSourceInfo): void {
    this.last = { routes, multiService, windowSec, remote };
    this.render();
  }

  /** The remote source is shown: chosen, and still configured. */
  private get showingRemote(): boolean {
    return this.ui.source === 'remote' && this.last.remote !== undefined;
  }

  private setSource(source: 'local' | 'remote'): void {
    if ((this.ui.source ?? 'local') === source) return;
    this.ui.source = source;
    this.limit = PAGE_ROWS;
    this.onUiChange();
    this.render(true);
  }

  private sortBy(key: SortKey): void {
    if (this.ui.sort === key) this.ui.desc = !this.ui.desc;
    else {
      this.ui.sort = key;
      this.ui.desc = key !== 'route';
    }
    this.onUiChange();
    this.paintHeads();
    this.render(true);
  }

  private paintHeads(): void {
    for (const [key, label] of COLUMNS) {
      const th = this.heads.get(key)!;
      const active = this.ui.sort === key;
      setAttr(th, 'aria-sort', active ? (this.ui.desc ? 'descending' : 'ascending') : 'none');
      setText(th, label + (active ? (this.ui.desc ? ' ▾' : ' ▴') : ''));
    }
  }

  private render(reorder = !this.held): void {
    const { multiService, windowSec, remote } = this.last;
    const showingRemote = this.showingRemote;
    const routes = showingRemote ? remoteRows(this.last.routes) : this.last.routes.filter((r) => !r.remoteOnly);
    this.sourceSwitch.hidden = !remote;
    if (remote) {
      setText(this.remoteButton, remote.label);
      setAttr(this.remoteButton, 'title', `Figures from the ${remote.label} Prometheus over the last ${rangeLabel(remote.rangeS)}`);
      setAttr(this.localButton, 'aria-pressed', String(!showingRemote));
      setAttr(this.remoteButton, 'aria-pressed', String(showingRemote));
      toggleClass(this.localButton, 'on', !showingRemote);
      toggleClass(this.remoteButton, 'on', showingRemote);
    }
    toggleClass(this.table, 'remote', showingRemote);
    const matching = sortRoutes(routes, this.ui.sort, this.ui.desc).filter((r) => matchesFilter(r, this.ui.filter));
    let shown = matching.slice(0, this.limit);
    if (!reorder) shown = keepOrder(shown, matching, this.rows.map((row) => routeKey(row.data)));
    setText(this.count, matching.length === routes.length ? `(${routes.length})` : `(${matching.length} of ${routes.length})`);
    setText(
      this.caption,
      showingRemote && remote
        ? `${remote.label}: latency in ms over the last ${rangeLabel(remote.rangeS)}, from Prometheus (interpolated in histogram buckets).`
        : `Latency in ms over the last ${windowLabel(windowSec)}; the line shows requests in the last minute.`,
    );
    const rest = matching.length - shown.length;
    this.more.hidden = rest <= 0;
    setText(this.more, `Show ${Math.min(rest, PAGE_ROWS)} more of ${rest} (or filter)`);
    while (this.rows.length < shown.length) this.rows.push(this.create(shown[this.rows.length]));
    while (this.rows.length > shown.length) {
      const row = this.rows.pop()!;
      this.observer.unobserve(row.body);
      this.visible.delete(row.body);
      row.body.remove();
    }
    for (let i = 0; i < shown.length; i++) {
      const row = this.rows[i];
      row.data = shown[i];
      row.multiService = multiService;
      this.identify(row);
      if (this.visible.has(row.body) || !row.applied) this.apply(row);
    }
  }

  private create(r: RouteRow): Row {
    const body = el('tbody', { tabindex: '0', class: 'route-row', role: 'rowgroup' });
    const method = el('span', { class: 'method' });
    const path = el('span', { class: 'path' });
    const svc = el('span', { class: 'svc' });
    const segs = BAR_KINDS.map((k) => el('span', { class: `seg seg-${k}` }));
    const bar = el('div', { class: 'breakdown', 'data-testid': 'route-breakdown', role: 'img' }, ...segs);
    bar.hidden = true;
    const paused = el('span', { class: 'paused', 'data-testid': 'paused-count' });
    const name = el('td', { colspan: '7', class: 'left route', role: 'cell' }, method, ' ', path, ' ', svc, paused, bar);
    const line = svg('polyline');
    const spark = svg('svg', { viewBox: `0 0 ${SPARK_W} ${SPARK_H}`, class: 'spark', 'aria-hidden': 'true', preserveAspectRatio: 'none' });
    spark.append(line);
    const cells = [el('td', { class: 'left spark-cell', role: 'cell' }, spark), ...[1, 2, 3, 4, 5, 6].map(() => el('td', { role: 'cell' }))];
    body.append(el('tr', { class: 'name', role: 'row' }, name), el('tr', { class: 'figures', role: 'row' }, ...cells));
    const row: Row = { body, method, path, svc, paused, cells, line, bar, segs, data: r, applied: undefined, multiService: false };
    this.byBody.set(body, row);
    onActivate(body, () => {
      if (!row.data.remoteOnly) this.onOpen(row.data);
    });
    this.table.append(body);
    this.observer.observe(body);
    return row;
  }

  /** Which route a row shows: written for every row, so the table's routes are right even out of view. */
  private identify(row: Row): void {
    const r = row.data;
    setText(row.method, r.method || 'ANY');
    setAttr(row.method, 'class', `method m-${r.method.toLowerCase().replace(/[^a-z]/g, '')}`);
    setText(row.path, r.route);
    setAttr(row.body, 'data-route', r.route);
    setText(row.svc, r.remoteOnly ? 'remote only' : row.multiService ? r.service : '');
    toggleClass(row.body, 'remote-only', !!r.remoteOnly);
  }

  /** The figures, for rows in view (and each row once). */
  private apply(row: Row): void {
    const r = row.data;
    const a = row.applied;
    if (a === r) return;
    row.applied = r;
    setText(row.cells[1], fmtRate(r.rps));
    // Quantiles interpolated inside histogram buckets are marked, so they are not read as measured.
    const approx = r.fromBuckets ? '≈' : '';
    setText(row.cells[2], approx + fmtMsShort(r.p50Ms));
    setText(row.cells[3], approx + fmtMsShort(r.p95Ms));
    setText(row.cells[4], approx + fmtMsShort(r.p99Ms));
    for (const c of [row.cells[2], row.cells[3], row.cells[4]]) setAttr(c, 'title', r.fromBuckets ? 'Interpolated inside histogram buckets (PromQL histogram_quantile)' : '');
    setText(row.cells[5], fmtPct(r.errorRate));
    toggleClass(row.cells[5], 'err', r.errorRate > 0);
    toggleClass(row.body, 'has-errors', r.errorRate > 0);
    // The change since the baseline run, when significant (docs/runs.md): ▲ slower, ▼ faster.
    const d = r.change?.deltaMs ?? 0;
    setText(row.cells[6], r.change ? (d ? `${d > 0 ? '▲' : '▼'}${fmtMsShort(Math.abs(d))}` : r.change.text.includes('errors ▲') ? '▲err' : '▼err') : '');
    setAttr(row.cells[6], 'title', r.change ? r.change.text : 'No significant change since the baseline run');
    setAttr(row.cells[6], 'data-testid', 'route-change');
    toggleClass(row.cells[6], 'chg-up', !!r.change && (d > 0 || (!d && r.change.text.includes('errors ▲'))));
    toggleClass(row.cells[6], 'chg-down', !!r.change && (d < 0 || (!d && !r.change.text.includes('errors ▲'))));
    setText(row.paused, r.paused ? ` · ${r.paused} paused` : '');
    const pausedNote = r.paused ? ` ${r.paused} of them stopped at a breakpoint: counted, kept out of the percentiles.` : '';
    const source = r.fromBuckets ? ' Latency percentiles are interpolated inside histogram buckets (from metrics, no traces).' : '';
    const remote = this.showingRemote ? this.last.remote : undefined;
    const title = remote
      ? `${r.method || 'ANY'} ${r.route}: ${r.remote ? `${remote.label} figures computed by Prometheus over the last ${rangeLabel(remote.rangeS)}, percentiles interpolated inside histogram buckets` : `no ${remote.label} figures`}${r.remoteOnly ? '; known only to the remote Prometheus (no local requests)' : ''}.`
      : r.remoteOnly
      ? `${r.method} ${r.route}: known only to the remote Prometheus (no local requests).`
      : `${r.method} ${r.route} (${r.service}): ${r.count} requests in the window.${pausedNote}${source} Enter or click: ${r.hasCode ? 'open the handler and ' : ''}show its traces.`;
    setAttr(row.body, 'title', title);
    if (remote && r.remote) setAttr(row.body, 'data-as-of-ms', String(r.remote.asOfMs));
    else row.body.removeAttribute('data-as-of-ms');
    setAttr(row.body, 'aria-label', `${r.method} ${r.route}, ${fmtRate(r.rps)} requests per second, p95 ${fmtMsShort(r.p95Ms)} ms, ${fmtPct(r.errorRate)} errors`);
    if (!a || !sameNumbers(a.spark, r.spark)) setAttr(row.line, 'points', sparkPoints(r.spark));
    this.applyBar(row, r);
  }

  private applyBar(row: Row, r: RouteRow): void {
    const b = r.breakdown;
    const total = b ? b.code + b.db + b.http + b.service : 0;
    row.bar.hidden = !b || total <= 0;
    if (!b || total <= 0) return;
    BAR_KINDS.forEach((k, i) => {
      // Widths through the CSSOM: the webview's CSP allows no inline style attributes.
      const w = `${((b[k] / total) * 100).toFixed(1)}%`;
      if (row.segs[i].style.width !== w) row.segs[i].style.width = w;
    });
    const label = `Time per request (${fmtMsShort(total)} ms): ${BAR_KINDS.filter((k) => b[k] > 0)
      .map((k) => `${BAR_LABELS[k]} ${fmtMsShort(b[k])} ms`)
      .join(', ')}. Largest: ${b.top.map((t) => `${t.target} ${fmtMsShort(t.meanMs)} ms`).join(', ')}`;
    setAttr(row.bar, 'title', label);
    setAttr(row.bar, 'aria-label', label);
  }
}

/**
 * The rows to show while the order is held: those on screen stay in place with fresh figures
 * (gone ones leave), and newcomers that made the top go below them.
 */
export function keepOrder(top: RouteRow[], matching: RouteRow[], onScreen: string[]): RouteRow[] {
  const byKey = new Map(matching.map((r) => [routeKey(r), r]));
  const out: RouteRow[] = [];
  for (const k of onScreen) {
    const r = byKey.get(k);
    if (r) out.push(r);
  }
  const present = new Set(onScreen);
  for (const r of top) if (!present.has(routeKey(r))) out.push(r);
  return out;
}

export function sparkPoints(values: readonly number[]): string {
  let max = 1;
  for (const v of values) if (v > max) max = v;
  const n = Math.max(1, values.length - 1);
  let out = '';
  for (let i = 0; i < values.length; i++) {
    const x = (i / n) * SPARK_W;
    const y = SPARK_H - 1 - (values[i] / max) * (SPARK_H - 2);
    out += `${i ? ' ' : ''}${x.toFixed(1)},${y.toFixed(1)}`;
  }
  return out;
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
