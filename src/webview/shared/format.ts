/** Number and time formats shared by the webviews: short, since a sidebar is narrow. */

export function fmtMs(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v >= 60_000) return `${(v / 60_000).toFixed(1)} min`;
  if (v >= 1000) return `${(v / 1000).toFixed(v >= 10_000 ? 0 : 2)} s`;
  if (v >= 100) return `${v.toFixed(0)} ms`;
  if (v >= 10) return `${v.toFixed(1)} ms`;
  if (v >= 1) return `${v.toFixed(2)} ms`;
  return `${(v * 1000).toFixed(0)} µs`;
}

/** Table cells: the unit is in the caption. */
export function fmtMsShort(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '–';
  if (v >= 10_000) return `${(v / 1000).toFixed(0)}s`;
  if (v >= 1000) return `${(v / 1000).toFixed(1)}s`;
  if (v >= 10) return v.toFixed(0);
  return v.toFixed(1);
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

export function fmtBytes(v: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export function ago(ms: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

export function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function windowLabel(sec: number): string {
  return sec < 120 ? `${sec} s` : `${sec / 60} min`;
}
