/**
 * The waterfall of one trace: a row per span, its bar placed on the trace's time axis, nested
 * under its parent, coloured by service. Only the rows in view exist in the DOM (a small pool
 * reused while scrolling), so a trace of thousands of spans opens and scrolls without freezing.
 */
import type { SpanView, TraceView } from '../../features/traces/protocol';
import { el, setAttr, setText, toggleClass } from '../shared/dom';
import { fmtMs } from '../shared/format';

export const ROW_HEIGHT = 22;
const HEAD_HEIGHT = 21;
const OVERSCAN = 8;
const INDENT_PX = 12;
/** Deeper spans stop moving right, so a long chain of calls keeps room for its names. */
const MAX_INDENT_LEVELS = 20;
const MAX_EVENT_MARKS = 12;

interface PooledRow {
  root: HTMLElement;
  twisty: HTMLElement;
  chip: HTMLElement;
  name: HTMLElement;
  bar: HTMLElement;
  label: HTMLElement;
  marks: HTMLElement;
  /** The span's pieces of the critical path, under its bar. */
  crit: HTMLElement;
  index: number;
}

/** Ticks for an axis of `total` ms: a 1-2-5 step giving about `count` intervals. */
export function niceTicks(total: number, count: number): number[] {
  if (!(total > 0)) return [0];
  const raw = total / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let t = 0; t <= total + step * 1e-9; t += step) out.push(t);
  return out;
}

export class Waterfall {
  readonly root: HTMLElement;
  private readonly axis: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly viewport: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly pool: PooledRow[] = [];
  private trace: TraceView | null = null;
  /** Indices into trace.spans of the rows shown (collapsed subtrees left out), in order. */
  private visible: number[] = [];
  private rowOf = new Map<string, number>();
  /** Critical-path segments per span id (ms offsets and durations). */
  private critOf = new Map<string, { offsetMs: number; durationMs: number }[]>();
  private parentIndex: Int32Array = new Int32Array(0);
  private readonly collapsed = new Set<string>();
  private selected = -1;
  private renderQueued = false;
  private lastRange = '';

  constructor(
    private readonly onSelect: (span: SpanView | null) => void,
    private readonly onOpen: (span: SpanView) => void,
  ) {
    this.axis = el('div', { class: 'wf-axis', 'aria-hidden': 'true' });
    this.grid = el('div', { class: 'wf-grid', 'aria-hidden': 'true' });
    this.spacer = el('div', { class: 'wf-spacer' });
    this.viewport = el('div', { class: 'wf-viewport', role: 'tree', tabindex: '0', 'aria-label': 'Spans of the trace', 'data-testid': 'waterfall' }, this.spacer);
    this.root = el('div', { class: 'wf' }, el('div', { class: 'wf-head' }, el('div', { class: 'wf-name-head' }, 'Span'), this.axis), el('div', { class: 'wf-body' }, this.grid, this.viewport));
    this.viewport.addEventListener('scroll', () => this.queueRender(), { passive: true });
    this.viewport.addEventListener('keydown', (e) => this.onKey(e));
    new ResizeObserver(() => this.queueRender()).observe(this.viewport);
  }

  get scrollTop(): number {
    return this.viewport.scrollTop;
  }

  /** Shows a trace (or nothing); keeps the collapsed spans and the selection when it is the same trace again. */
  setTrace(trace: TraceView | null, selectSpanId: string | null, scrollTop = 0): void {
    const same = trace !== null && this.trace?.traceId === trace.traceId;
    if (!same) this.collapsed.clear();
    const previous = this.selected >= 0 && this.trace ? this.trace.spans[this.selected]?.spanId : null;
    this.trace = trace;
    this.rowOf = new Map();
    this.critOf = new Map();
    for (const c of trace?.analysis?.criticalPath ?? []) {
      const list = this.critOf.get(c.spanId);
      if (list) list.push(c);
      else this.critOf.set(c.spanId, [c]);
    }
    const spans = trace?.spans ?? [];
    this.parentIndex = new Int32Array(spans.length).fill(-1);
    for (let i = 0; i < spans.length; i++) {
      this.rowOf.set(spans[i].spanId, i);
      const p = spans[i].parentSpanId;
      // Depth first order puts a parent before its children.
      if (p !== undefined) this.parentIndex[i] = this.rowOf.get(p) ?? -1;
    }
    // Spans may have moved or changed (more of them arrived): fill every row afresh.
    for (const r of this.pool) r.index = -1;
    this.computeVisible();
    this.paintAxis();
    // A new trace opens on the span where most of its time went.
    const want = selectSpanId ?? (same ? previous : (trace?.analysis?.hotSpanId ?? null)) ?? null;
    this.selected = want !== null && this.rowOf.has(want) ? this.rowOf.get(want)! : spans.length ? 0 : -1;
    if (!same) this.viewport.scrollTop = scrollTop;
    this.lastRange = '';
    this.renderNow();
    this.onSelect(this.selected >= 0 ? spans[this.selected] : null);
  }

  focus(): void {
    this.viewport.focus();
  }

  private computeVisible(): void {
    const spans = this.trace?.spans ?? [];
    const out: number[] = [];
    let skipDeeperThan = Infinity;
    for (let i = 0; i < spans.length; i++) {
      const s = spans[i];
      if (s.depth > skipDeeperThan) continue;
      skipDeeperThan = Infinity;
      out.push(i);
      if (s.children > 0 && this.collapsed.has(s.spanId)) skipDeeperThan = s.depth;
    }
    this.visible = out;
    this.spacer.style.height = `${out.length * ROW_HEIGHT}px`;
    // As tall as its rows (the details get the rest), up to the limit the stylesheet sets.
    this.root.style.height = `${Math.max(2, out.length) * ROW_HEIGHT + HEAD_HEIGHT + 6}px`;
  }

  private paintAxis(): void {
    const total = this.trace?.durationMs ?? 0;
    const ticks = niceTicks(total, 5);
    const labels: HTMLElement[] = [];
    const lines: HTMLElement[] = [];
    for (const t of ticks) {
      const left = total > 0 ? `${(t / total) * 100}%` : '0%';
      const label = el('span', { class: 'wf-tick' }, t === 0 ? '0' : fmtMs(t));
      label.style.left = left;
      labels.push(label);
      const line = el('span', { class: 'wf-gridline' });
      line.style.left = left;
      lines.push(line);
    }
    // Time the process spent stopped in the debugger, behind the bars: not the request's work.
    const bands: HTMLElement[] = [];
    for (const p of this.trace?.pauses ?? []) {
      if (!(total > 0)) break;
      const band = el('span', { class: 'wf-pause', title: `paused in the debugger for ${fmtMs(p.durationMs)} (not latency)`, 'data-testid': 'pause-band' });
      band.style.left = `${Math.max(0, (p.offsetMs / total) * 100)}%`;
      band.style.width = `${Math.max(0.2, (p.durationMs / total) * 100)}%`;
      bands.push(band);
    }
    this.axis.replaceChildren(...labels);
    this.grid.replaceChildren(...bands, ...lines);
  }

  private queueRender(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.renderNow();
    });
  }

  private renderNow(): void {
    const trace = this.trace;
    const height = this.viewport.clientHeight || 400;
    const first = Math.max(0, Math.floor(this.viewport.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.visible.length, Math.ceil((this.viewport.scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
    const range = `${first}:${last}:${this.selected}`;
    if (range === this.lastRange) return;
    this.lastRange = range;
    const need = last - first;
    while (this.pool.length < need) this.pool.push(this.createRow());
    for (let k = 0; k < this.pool.length; k++) {
      const row = this.pool[k];
      const pos = first + k;
      if (!trace || pos >= last) {
        row.root.hidden = true;
        row.index = -1;
        continue;
      }
      row.root.hidden = false;
      this.fillRow(row, this.visible[pos], pos, trace);
    }
    const active = this.selected >= 0 ? `wf-row-${this.selected}` : '';
    if (active && this.pool.some((r) => r.index === this.selected)) setAttr(this.viewport, 'aria-activedescendant', active);
    else this.viewport.removeAttribute('aria-activedescendant');
  }

  private createRow(): PooledRow {
    const twisty = el('span', { class: 'wf-twisty', 'aria-hidden': 'true' });
    const chip = el('span', { class: 'wf-chip', 'aria-hidden': 'true' });
    const name = el('span', { class: 'wf-span-name' });
    const bar = el('div', { class: 'wf-bar' });
    const label = el('span', { class: 'wf-label' });
    const marks = el('div', { class: 'wf-marks', 'aria-hidden': 'true' });
    const crit = el('div', { class: 'wf-crit', 'aria-hidden': 'true' });
    const nameCell = el('div', { class: 'wf-name' }, twisty, chip, name);
    const root = el('div', { class: 'wf-row', role: 'treeitem' }, nameCell, el('div', { class: 'wf-timeline' }, bar, crit, marks, label));
    const row: PooledRow = { root, twisty, chip, name, bar, label, marks, crit, index: -1 };
    root.addEventListener('mousedown', (e) => e.preventDefault()); // keep focus on the tree, not the row
    root.addEventListener('click', (e) => {
      if (row.index < 0) return;
      if (e.target === twisty) this.toggle(row.index);
      else this.select(row.index);
      this.viewport.focus({ preventScroll: true });
    });
    root.addEventListener('dblclick', () => row.index >= 0 && this.trace && this.onOpen(this.trace.spans[row.index]));
    this.viewport.append(root);
    return row;
  }

  private fillRow(row: PooledRow, index: number, pos: number, trace: TraceView): void {
    const s = trace.spans[index];
    const changed = row.index !== index;
    row.index = index;
    row.root.style.transform = `translateY(${pos * ROW_HEIGHT}px)`;
    toggleClass(row.root, 'selected', index === this.selected);
    setAttr(row.root, 'aria-selected', String(index === this.selected));
    if (!changed) {
      this.fillTwisty(row, s);
      return;
    }
    setAttr(row.root, 'id', `wf-row-${index}`);
    setAttr(row.root, 'aria-level', String(s.depth + 1));
    setAttr(row.root, 'data-span-id', s.spanId);
    row.root.style.setProperty('--indent', `${Math.min(s.depth, MAX_INDENT_LEVELS) * INDENT_PX}px`);
    this.fillTwisty(row, s);
    const svc = s.service % 8;
    row.chip.className = `wf-chip svc-${svc}`;
    row.bar.className = `wf-bar svc-${svc}${s.status === 'error' ? ' error' : ''}`;
    setText(row.name, s.name);
    toggleClass(row.root, 'error', s.status === 'error');
    const total = trace.durationMs || 1;
    const left = (s.offsetMs / total) * 100;
    const width = (s.durationMs / total) * 100;
    row.bar.style.left = `${left}%`;
    row.bar.style.width = `${width}%`;
    setText(row.label, fmtMs(s.durationMs));
    // The duration sits right of the bar; near the right edge, inside a wide bar or left of a narrow one.
    const place = left + width < 80 ? 'right' : width >= 15 ? 'inside' : 'left';
    toggleClass(row.label, 'inside', place === 'inside');
    row.label.style.left = place === 'right' ? `calc(${left + width}% + 4px)` : place === 'inside' ? `calc(${left}% + 4px)` : '';
    row.label.style.right = place === 'left' ? `calc(${100 - left}% + 4px)` : '';
    const marks: HTMLElement[] = [];
    for (const ev of s.events.slice(0, MAX_EVENT_MARKS)) {
      const m = el('span', { class: ev.name === 'exception' ? 'wf-mark wf-mark-exception' : 'wf-mark', title: ev.name });
      m.style.left = `${(ev.offsetMs / total) * 100}%`;
      marks.push(m);
    }
    row.marks.replaceChildren(...marks);
    const segs = this.critOf.get(s.spanId) ?? [];
    const onPath = segs.reduce((a, c) => a + c.durationMs, 0);
    row.crit.replaceChildren(
      ...segs.map((c) => {
        const seg = el('span', { class: 'wf-crit-seg' });
        seg.style.left = `${(c.offsetMs / total) * 100}%`;
        seg.style.width = `${(c.durationMs / total) * 100}%`;
        return seg;
      }),
    );
    toggleClass(row.root, 'critical', segs.length > 0);
    const pathText = segs.length ? ` · ${fmtMs(onPath)} on the critical path` : '';
    const service = trace.services[s.service] ?? '';
    setAttr(row.root, 'title', `${s.name} · ${service} · ${fmtMs(s.durationMs)} at +${fmtMs(s.offsetMs)}${pathText}${s.status === 'error' ? ' · error' : ''}`);
    setAttr(row.root, 'aria-label', `${s.name}, ${service}, ${fmtMs(s.durationMs)}${segs.length ? `, ${fmtMs(onPath)} on the critical path` : ''}${s.status === 'error' ? ', error' : ''}`);
  }

  private fillTwisty(row: PooledRow, s: SpanView): void {
    const open = !this.collapsed.has(s.spanId);
    setText(row.twisty, s.children > 0 ? (open ? '▾' : '▸') : '');
    if (s.children > 0) setAttr(row.root, 'aria-expanded', String(open));
    else row.root.removeAttribute('aria-expanded');
  }

  private select(index: number, reveal = false): void {
    if (!this.trace || index < 0 || index >= this.trace.spans.length) return;
    this.selected = index;
    if (reveal) this.reveal(index);
    this.lastRange = '';
    this.renderNow();
    this.onSelect(this.trace.spans[index]);
  }

  private reveal(index: number): void {
    const pos = this.visible.indexOf(index);
    if (pos < 0) return;
    const top = pos * ROW_HEIGHT;
    const vt = this.viewport.scrollTop;
    const h = this.viewport.clientHeight;
    if (top < vt) this.viewport.scrollTop = top;
    else if (top + ROW_HEIGHT > vt + h) this.viewport.scrollTop = top + ROW_HEIGHT - h;
  }

  private toggle(index: number): void {
    const s = this.trace?.spans[index];
    if (!s || s.children === 0) return;
    if (this.collapsed.has(s.spanId)) this.collapsed.delete(s.spanId);
    else this.collapsed.add(s.spanId);
    this.computeVisible();
    this.lastRange = '';
    this.renderNow();
  }

  private onKey(e: KeyboardEvent): void {
    if (!this.trace || this.visible.length === 0) return;
    const pos = Math.max(0, this.visible.indexOf(this.selected));
    const page = Math.max(1, Math.floor(this.viewport.clientHeight / ROW_HEIGHT) - 1);
    const s = this.trace.spans[this.selected];
    const go = (p: number) => this.select(this.visible[Math.max(0, Math.min(this.visible.length - 1, p))], true);
    switch (e.key) {
      case 'ArrowDown':
        go(pos + 1);
        break;
      case 'ArrowUp':
        go(pos - 1);
        break;
      case 'PageDown':
        go(pos + page);
        break;
      case 'PageUp':
        go(pos - page);
        break;
      case 'Home':
        go(0);
        break;
      case 'End':
        go(this.visible.length - 1);
        break;
      case 'ArrowRight':
        if (s && s.children > 0 && this.collapsed.has(s.spanId)) this.toggle(this.selected);
        else if (s && s.children > 0) go(pos + 1);
        break;
      case 'ArrowLeft':
        if (s && s.children > 0 && !this.collapsed.has(s.spanId)) this.toggle(this.selected);
        else if (this.parentIndex[this.selected] >= 0) this.select(this.parentIndex[this.selected], true);
        break;
      case 'Enter':
        if (s) this.onOpen(s);
        break;
      default:
        return;
    }
    e.preventDefault();
  }
}
