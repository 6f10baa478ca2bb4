/**
 * A remote Prometheus (a team's staging or production server) as a second source of route
 * figures: p50/p95/p99, request rate and error rate per route over a range (1 h by default),
 * computed by Prometheus itself through its HTTP API (`/api/v1/query`) with the PromQL of
 * presets.ts. With no preset given, the one whose histogram exists is found by asking
 * `/api/v1/label/__name__/values`.
 *
 * Answers are cached and refreshed on a timer; each refresh is bounded in time; readers (the
 * query API, the lens) only ever read the cache. A failure is logged once (the same error again
 * is not logged until a refresh succeeds) and kept in the state.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Logger } from '../log';
import { PRESET_NAMES, PRESETS, parseRange, routeQueries, selectorMatchers, type PresetName, type RemotePreset } from './presets';
import type { RemoteFigures } from '../stats/figures';

export interface RemoteAuth {
  bearerToken?: string;
  basic?: { username: string; password: string };
}

export interface RemotePrometheusOptions {
  /** Base URL of the Prometheus server (http://prometheus:9090; a path prefix is kept). */
  url: string;
  /** A label selector such as `{env="prod", service="orders"}`. */
  selector?: string;
  /** One of PRESET_NAMES; undefined or 'auto' detects it. */
  preset?: PresetName | 'auto';
  /** A preset of one's own, used instead of the named ones. */
  custom?: RemotePreset;
  /** A Prometheus duration (default `1h`). */
  range?: string;
  /** Between refreshes (default 60 s). */
  refreshMs?: number;
  /** Each refresh as a whole (default 10 s). */
  timeoutMs?: number;
  auth?: RemoteAuth;
  log: Logger;
}

/** The figures of one route (the shape the views share, src/core/stats/figures.ts). */
export type RemoteRouteFigures = RemoteFigures;

export interface RemoteRoute extends RemoteRouteFigures {
  method: string;
  route: string;
}

export interface RemoteState {
  url: string;
  selector: string;
  preset: string | null;
  rangeS: number;
  state: 'pending' | 'ok' | 'error';
  error?: string;
  routes: number;
  asOfMs?: number;
  lastAttemptMs?: number;
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export class RemotePrometheusError extends Error {}

function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid URL)';
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export class RemotePrometheus {
  private readonly base: URL;
  private readonly matchers: string;
  readonly rangeS: number;
  private preset: RemotePreset | undefined;
  private routes: RemoteRoute[] = [];
  private byKey = new Map<string, RemoteRoute>();
  private status: RemoteState['state'] = 'pending';
  private error: string | undefined;
  private asOfMs: number | undefined;
  private lastAttemptMs: number | undefined;
  private reported = '';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private disposed = false;
  private readonly agents = { http: new http.Agent({ keepAlive: true, maxSockets: 6 }), https: new https.Agent({ keepAlive: true, maxSockets: 6 }) };
  /** The evaluation time of the last refresh (Unix seconds), for comparing with Prometheus directly. */
  lastEvalTimeS: number | undefined;

  constructor(private readonly opts: RemotePrometheusOptions) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new RemotePrometheusError(`the remote Prometheus URL ${JSON.stringify(opts.url)} is not a URL (e.g. http://prometheus:9090)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RemotePrometheusError(`the remote Prometheus URL must be http or https, not ${u.protocol}`);
    this.base = u;
    const m = selectorMatchers(opts.selector);
    if (typeof m !== 'string') throw new RemotePrometheusError(m.error);
    this.matchers = m;
    const r = parseRange(opts.range ?? '1h');
    if (!r) throw new RemotePrometheusError(`the range must be a Prometheus duration such as 1h, 30m or 1d, not ${JSON.stringify(opts.range)}`);
    this.rangeS = Math.round(r);
    if (opts.custom) this.preset = opts.custom;
    else if (opts.preset && opts.preset !== 'auto') {
      if (!PRESET_NAMES.includes(opts.preset)) throw new RemotePrometheusError(`unknown preset ${JSON.stringify(opts.preset)}; one of ${PRESET_NAMES.join(', ')}`);
      this.preset = PRESETS[opts.preset];
    }
  }

  /** Starts refreshing: once now, then every refreshMs. */
  start(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.opts.refreshMs ?? 60_000);
    this.timer.unref();
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearInterval(this.timer);
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  /** The PromQL of the current preset (undefined until one is known). */
  queries(): ReturnType<typeof routeQueries> | undefined {
    return this.preset ? routeQueries(this.preset, this.matchers, `${this.rangeS}s`) : undefined;
  }

  get presetName(): string | undefined {
    return this.preset?.name;
  }

  state(): RemoteState {
    return {
      url: displayUrl(this.opts.url),
      selector: this.opts.selector ?? '',
      preset: this.preset?.name ?? null,
      rangeS: this.rangeS,
      state: this.status,
      ...(this.error ? { error: this.error } : {}),
      routes: this.routes.length,
      ...(this.asOfMs ? { asOfMs: this.asOfMs } : {}),
      ...(this.lastAttemptMs ? { lastAttemptMs: this.lastAttemptMs } : {}),
    };
  }

  /** Every route the remote server knows, from the cache. */
  allRoutes(): RemoteRoute[] {
    return this.routes;
  }

  /** A route's remote figures: by method and route, or by route alone when the exporter has no method. */
  figures(method: string, route: string): RemoteRouteFigures | undefined {
    return this.byKey.get(`${method.toUpperCase()} ${route}`) ?? this.byKey.get(` ${route}`);
  }

  /** One refresh (concurrent calls share it). */
  refresh(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.doRefresh().finally(() => (this.running = undefined));
    return this.running;
  }

  private async doRefresh(): Promise<void> {
    if (this.disposed) return;
    const deadline = Date.now() + (this.opts.timeoutMs ?? 10_000);
    this.lastAttemptMs = Date.now();
    try {
      if (!this.preset) this.preset = await this.detect(deadline);
      const q = routeQueries(this.preset, this.matchers, `${this.rangeS}s`);
      const time = Math.floor(Date.now() / 1000);
      const [p50, p95, p99, rps, errors, total] = await Promise.all([
        this.query(q.quantile(0.5), time, deadline),
        this.query(q.quantile(0.95), time, deadline),
        this.query(q.quantile(0.99), time, deadline),
        this.query(q.rps, time, deadline),
        q.errors ? this.query(q.errors, time, deadline) : Promise.resolve([]),
        q.total === q.rps ? Promise.resolve(undefined) : this.query(q.total, time, deadline),
      ]);
      if (this.disposed) return;
      const asOfMs = time * 1000;
      const keyOf = (m: Record<string, string>) => {
        const route = this.preset!.route.map((l) => m[l]).find((v) => v) ?? '';
        const method = this.preset!.method.map((l) => m[l]).find((v) => v) ?? '';
        return { route, method: method.toUpperCase() };
      };
      const routes = new Map<string, RemoteRoute>();
      const entry = (m: Record<string, string>) => {
        const k = keyOf(m);
        if (!k.route || this.preset!.ignoreRoutes?.includes(k.route)) return undefined;
        const key = `${k.method} ${k.route}`;
        let r = routes.get(key);
        if (!r) routes.set(key, (r = { ...k, p50Ms: null, p95Ms: null, p99Ms: null, rps: 0, errorRate: 0, rangeS: this.rangeS, asOfMs }));
        return r;
      };
      const num = (s: Sample) => Number(s.value[1]);
      const ms = (v: number) => (Number.isFinite(v) ? round3(v * this.preset!.toMs) : null);
      for (const s of rps) {
        const r = entry(s.metric);
        if (r) r.rps = num(s);
      }
      for (const [list, field] of [[p50, 'p50Ms'], [p95, 'p95Ms'], [p99, 'p99Ms']] as const) {
        for (const s of list) {
          const r = entry(s.metric);
          if (r) r[field] = ms(num(s));
        }
      }
      const totals = new Map<string, number>();
      for (const s of total ?? rps) {
        const k = keyOf(s.metric);
        totals.set(`${k.method} ${k.route}`, num(s));
      }
      for (const s of errors) {
        const k = keyOf(s.metric);
        const r = routes.get(`${k.method} ${k.route}`);
        const t = totals.get(`${k.method} ${k.route}`);
        if (r && t && t > 0) r.errorRate = Math.min(1, num(s) / t);
      }
      // Routes with no requests in the range (rate 0, NaN quantiles) are left out.
      this.routes = [...routes.values()].filter((r) => r.rps > 0 || r.p50Ms !== null).sort((a, b) => b.rps - a.rps || a.route.localeCompare(b.route));
      this.byKey = new Map(this.routes.map((r) => [`${r.method} ${r.route}`, r]));
      this.asOfMs = asOfMs;
      this.lastEvalTimeS = time;
      this.status = 'ok';
      this.error = undefined;
      if (this.reported) this.opts.log.info(`[remote-prometheus] ${displayUrl(this.opts.url)} answers again`);
      this.reported = '';
    } catch (e) {
      if (this.disposed) return;
      const message = (e as Error).message;
      this.status = 'error';
      this.error = message;
      // The cached figures stay (with their asOfMs) until a refresh succeeds.
      if (message !== this.reported) {
        this.reported = message;
        this.opts.log.warn(`[remote-prometheus] ${displayUrl(this.opts.url)}: ${message}`);
      }
    }
  }

  /** The preset whose histogram the server has (fastapi-instrumentator and prom-client share a name: told apart by the handler label). */
  private async detect(deadline: number): Promise<RemotePreset> {
    const names = new Set(await this.getJson<string[]>('/api/v1/label/__name__/values', {}, deadline));
    const order: PresetName[] = ['otel', 'django-prometheus', 'flask-exporter', 'fastapi-instrumentator', 'prom-client'];
    for (const n of order) {
      const p = PRESETS[n];
      if (!names.has(`${p.histogram}_bucket`)) continue;
      if (p.histogram === 'http_request_duration_seconds') {
        const labels = new Set(await this.getJson<string[]>('/api/v1/labels', { 'match[]': `${p.histogram}_bucket` }, deadline));
        return labels.has('handler') ? PRESETS['fastapi-instrumentator'] : PRESETS['prom-client'];
      }
      return p;
    }
    throw new RemotePrometheusError(`none of the known HTTP histograms is on this server (${order.map((n) => PRESETS[n].histogram).filter((v, i, a) => a.indexOf(v) === i).join(', ')}); name a preset or a custom metric`);
  }

  private async query(promql: string, time: number, deadline: number): Promise<Sample[]> {
    const data = await this.getJson<{ resultType: string; result: Sample[] }>('/api/v1/query', { query: promql, time: String(time) }, deadline);
    if (data.resultType !== 'vector') throw new RemotePrometheusError(`unexpected result type ${data.resultType}`);
    return data.result;
  }

  private getJson<T>(path: string, params: Record<string, string>, deadline: number): Promise<T> {
    const url = new URL(this.base.toString());
    url.pathname = url.pathname.replace(/\/+$/, '') + path;
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'routelens' };
    const auth = this.opts.auth;
    if (auth?.bearerToken) headers.Authorization = `Bearer ${auth.bearerToken}`;
    else if (auth?.basic) headers.Authorization = `Basic ${Buffer.from(`${auth.basic.username}:${auth.basic.password}`).toString('base64')}`;
    else if (this.base.username) headers.Authorization = `Basic ${Buffer.from(`${decodeURIComponent(this.base.username)}:${decodeURIComponent(this.base.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
    const timeout = Math.max(1, deadline - Date.now());
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise<T>((resolve, reject) => {
      const req = lib.get(url, { headers, agent: url.protocol === 'https:' ? this.agents.https : this.agents.http, timeout }, (res) => {
        let body = '';
        let size = 0;
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          size += c.length;
          if (size > 32 * 1024 * 1024) {
            req.destroy(new RemotePrometheusError('answer larger than 32 MiB'));
            return;
          }
          body += c;
        });
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          if (code === 401 || code === 403) return reject(new RemotePrometheusError(`HTTP ${code}: the server refused the credentials (in VS Code: "Routelens: Set Remote Prometheus Credentials…"; routelens serve: ROUTELENS_REMOTE_PROMETHEUS_TOKEN or _BASIC)`));
          let parsed: { status?: string; data?: T; error?: string; errorType?: string } | undefined;
          try {
            parsed = JSON.parse(body) as typeof parsed;
          } catch {
            return reject(new RemotePrometheusError(`HTTP ${code}: not a Prometheus API answer (${body.replace(/\s+/g, ' ').slice(0, 120)})`));
          }
          if (code !== 200 || parsed?.status !== 'success') return reject(new RemotePrometheusError(`HTTP ${code}: ${parsed?.errorType ?? 'error'}: ${(parsed?.error ?? '').slice(0, 300)}`));
          resolve(parsed.data as T);
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new RemotePrometheusError(`no answer within ${timeout} ms`)));
      req.on('error', (e: NodeJS.ErrnoException) => reject(e instanceof RemotePrometheusError ? e : new RemotePrometheusError(e.code === 'ECONNREFUSED' ? `unreachable (connection refused at ${url.host})` : e.code === 'ENOTFOUND' ? `unreachable (no host ${url.hostname})` : `unreachable (${e.message})`)));
    });
  }
}
