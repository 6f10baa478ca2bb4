/**
 * A small live time-series chart on uPlot: a title with the latest values as its legend (or the
 * values under the cursor), themed from the editor's colours and sized to its container.
 */
import uPlot from 'uplot';
import type { ChartSeries } from '../../features/dashboard/protocol';
import { el, setText } from './dom';
import type { Theme } from './theme';

export type PaletteColour = 'blue' | 'green' | 'orange' | 'purple' | 'red' | 'yellow';

export interface LineSpec {
  label: string;
  colour: PaletteColour;
  /** Shade the area under the line (the main line of a chart). */
  fill?: boolean;
}

export interface ChartSpec {
  id: string;
  title: string;
  lines: LineSpec[];
  /** Value for the legend (and the y axis, unless tickFormat is given). */
  format(v: number): string;
  tickFormat?(v: number): string;
  /** The y axis reaches at least this high, so a quiet series does not fill the chart with noise. */
  minTop?: number;
  /** The y axis never goes above this (1 for a share). */
  maxTop?: number;
  /** Draw across missing points: gauges that report every second but sometimes late. */
  spanGaps?: boolean;
  height?: number;
  /** Half the width of the others (secondary charts side by side in a narrow sidebar). */
  half?: boolean;
  /** A longer description, shown on hover over the title. */
  description?: string;
}

export class TimeChart {
  readonly root: HTMLElement;
  private readonly plotBox: HTMLElement;
  private readonly legendValues: HTMLElement[] = [];
  private readonly swatches: HTMLElement[] = [];
  private plot: uPlot | undefined;
  private data: uPlot.AlignedData;
  private range: [number, number] = [0, 1];
  private hoverIdx: number | null = null;
  private readonly resizeObserver: ResizeObserver;
  private resizeQueued = false;
  private width = 0;

  constructor(
    readonly spec: ChartSpec,
    private theme: Theme,
  ) {
    this.data = [[], ...spec.lines.map(() => [])];
    const legend = el('div', { class: 'chart-legend' });
    for (const line of spec.lines) {
      const swatch = el('span', { class: 'swatch', 'aria-hidden': 'true' });
      const value = el('span', { class: 'chart-value' }, '–');
      this.swatches.push(swatch);
      this.legendValues.push(value);
      legend.append(el('span', { class: 'legend-item' }, swatch, spec.lines.length > 1 ? `${line.label} ` : '', value));
    }
    this.plotBox = el('div', { class: 'chart-plot', 'aria-hidden': 'true' });
    this.root = el(
      'section',
      { class: spec.half ? 'chart half' : 'chart', 'data-testid': `chart-${spec.id}`, 'aria-label': spec.description ?? spec.title },
      el('div', { class: 'chart-head' }, el('span', { class: 'chart-title', title: spec.description ?? spec.title }, spec.title), legend),
      this.plotBox,
    );
    this.paintSwatches();
    this.resizeObserver = new ResizeObserver(() => this.queueResize());
    this.resizeObserver.observe(this.plotBox);
  }

  /** New data and the x range to show (the same for every chart, so they slide together). */
  update(series: ChartSeries, fromSec: number, toSec: number): void {
    this.range = [fromSec, toSec];
    this.data = [series.t, ...series.lines] as uPlot.AlignedData;
    if (!this.plot) this.create();
    else this.plot.setData(this.data);
    this.showValues();
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.paintSwatches();
    // Axis and series colours are fixed at creation in uPlot: build the chart again (it is cheap).
    if (this.plot) {
      this.plot.destroy();
      this.plot = undefined;
      this.create();
    }
  }

  destroy(): void {
    this.resizeObserver.disconnect();
    this.plot?.destroy();
    this.plot = undefined;
  }

  private create(): void {
    const width = this.measure();
    if (width <= 0) return; // not laid out yet: the resize observer creates it once there is room
    this.width = width;
    this.plot = new uPlot(this.options(width), this.data, this.plotBox);
  }

  private measure(): number {
    return Math.floor(this.plotBox.clientWidth);
  }

  private queueResize(): void {
    if (this.resizeQueued) return;
    this.resizeQueued = true;
    requestAnimationFrame(() => {
      this.resizeQueued = false;
      const width = this.measure();
      if (width <= 0 || width === this.width) return;
      this.width = width;
      if (this.plot) this.plot.setSize({ width, height: this.height() });
      else this.create();
    });
  }

  private height(): number {
    return this.spec.height ?? 76;
  }

  private colour(c: PaletteColour): string {
    return this.theme[c];
  }

  private paintSwatches(): void {
    this.spec.lines.forEach((l, i) => (this.swatches[i].style.background = this.colour(l.colour)));
  }

  private showValues(): void {
    const n = this.data[0].length;
    this.spec.lines.forEach((_, i) => {
      const ys = this.data[i + 1] as (number | null)[];
      let v: number | null | undefined = null;
      if (this.hoverIdx !== null && this.hoverIdx < n) v = ys[this.hoverIdx];
      else for (let k = n - 1; k >= 0 && (v === null || v === undefined); k--) v = ys[k];
      setText(this.legendValues[i], v === null || v === undefined ? '–' : this.spec.format(v));
    });
  }

  private options(width: number): uPlot.Options {
    const t = this.theme;
    const font = `${Math.max(9, Math.round(t.fontSize * 0.78))}px ${t.fontFamily}`;
    const axis: uPlot.Axis = {
      stroke: t.muted,
      font,
      grid: { stroke: t.grid, width: 1 },
      ticks: { stroke: t.grid, width: 1, size: 3 },
    };
    const spec = this.spec;
    return {
      width,
      height: this.height(),
      padding: [6, 8, 0, 0],
      legend: { show: false },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      cursor: { y: false, drag: { x: false, y: false, setScale: false }, points: { size: 5, width: 1 } },
      scales: {
        x: { time: true, range: () => this.range },
        y: {
          range: (_u, _min, max) => {
            const data = max !== null && Number.isFinite(max) && max > 0 ? max * 1.12 : 0;
            const top = Math.min(Math.max(data, spec.minTop ?? 0), spec.maxTop ?? Infinity);
            return [0, top > 0 ? top : 1];
          },
        },
      },
      axes: [
        {
          ...axis,
          size: 20,
          space: 56,
          values: (_u, splits) => splits.map((s) => (s === null || s === undefined ? '' : clockLabel(s, this.range[1] - this.range[0]))),
          // A time label centred on a tick near either edge would be cut: leave that one out.
          filter: (u, splits) =>
            splits.map((s) => {
              const x = u.valToPos(s, 'x');
              return x > u.bbox.width / devicePixelRatio - 22 || x + u.bbox.left / devicePixelRatio < 24 ? null : s;
            }),
        },
        { ...axis, size: fitLabels, space: 22, values: (_u, splits) => splits.map((s) => (s === null || s === undefined ? '' : s === 0 ? '0' : (spec.tickFormat ?? spec.format)(s))) },
      ],
      series: [
        {},
        ...spec.lines.map((l): uPlot.Series => {
          const stroke = this.colour(l.colour);
          return { label: l.label, stroke, width: 1.5, fill: l.fill ? withAlpha(stroke, 0.14) : undefined, spanGaps: spec.spanGaps ?? false, points: { show: false } };
        }),
      ],
      hooks: {
        setCursor: [
          (u) => {
            const idx = u.cursor.idx;
            this.hoverIdx = idx === undefined || idx === null ? null : idx;
            this.showValues();
          },
        ],
      },
    };
  }
}

/** The y axis as wide as its longest label, so "293 MiB" is not cut at the left edge. */
function fitLabels(u: uPlot, values: string[] | null, axisIdx: number, cycle: number): number {
  const axis = u.axes[axisIdx];
  const previous = (axis as { _size?: number })._size;
  // uPlot asks again while it settles the layout: keep the first answer to avoid oscillating.
  if (cycle > 1 && previous !== undefined) return previous;
  let longest = '';
  for (const v of values ?? []) if (v.length > longest.length) longest = v;
  const font = Array.isArray(axis.font) ? axis.font[0] : axis.font;
  if (typeof font === 'string') u.ctx.font = font;
  const width = longest ? u.ctx.measureText(longest).width / devicePixelRatio : 0;
  return Math.ceil(width + (axis.ticks?.size ?? 3) + (axis.gap ?? 5) + 2);
}

function clockLabel(sec: number, spanSec: number): string {
  const d = new Date(sec * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return spanSec <= 120 ? `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}` : `${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A hex theme colour with an alpha, for area fills; other colour syntaxes get no fill. */
export function withAlpha(colour: string, alpha: number): string | undefined {
  const m = /^#([0-9a-f]{3,8})$/i.exec(colour.trim());
  if (!m) return undefined;
  let h = m[1];
  if (h.length === 3 || h.length === 4) h = [...h].map((c) => c + c).join('');
  if (h.length !== 6 && h.length !== 8) return undefined;
  const r = parseInt(h.slice(0, 2), 16);
  const g = parseInt(h.slice(2, 4), 16);
  const b = parseInt(h.slice(4, 6), 16);
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}
