/**
 * Beyond one machine, in the editor: forwarding to the team's OpenTelemetry Collector and
 * production figures from the team's Prometheus beside the local ones on the lens and hover.
 *
 * Settings: routelens.upstream.* (endpoint, protocol, signals, services) and
 * routelens.remotePrometheus.* (url, selector, preset, range, label). Headers and credentials are
 * kept in VS Code's secret storage, set with two commands, never in settings.json. The forwarder
 * runs in the window that owns the collector (it sees everything received); the remote figures are
 * read in every window (the lenses need them), and the owner's query API serves them too.
 */
import * as vscode from 'vscode';
import type { ForwardOptions, ForwardProtocol, ForwardSignal, ForwarderState } from '../../core/forward/forwarder';
import { formatMs } from '../../core/format';
import { setLensExtraProvider } from '../../core/routes/lensExtras';
import type { PresetName } from '../../core/remote/presets';
import { RemotePrometheus, type RemoteAuth, type RemotePrometheusOptions, type RemoteState } from '../../core/remote/remotePrometheus';
import type { FeatureContext } from '../context';

const HEADERS_SECRET = 'routelens.upstream.headers';
const AUTH_SECRET = 'routelens.remotePrometheus.auth';

interface UpstreamSettings {
  endpoint: string;
  protocol: ForwardProtocol;
  signals: ForwardSignal[];
  services: string[];
  redactPatterns: string[];
}

interface RemoteSettings {
  url: string;
  selector: string;
  preset: PresetName | 'auto';
  range: string;
  refreshSeconds: number;
  label: string;
}

function readUpstream(ctx: FeatureContext): UpstreamSettings {
  const { upstream, agents } = ctx.settings();
  return { ...upstream, redactPatterns: agents.redactPatterns };
}

function readRemote(ctx: FeatureContext): RemoteSettings {
  const r = ctx.settings().remotePrometheus;
  return { ...r, preset: r.preset as PresetName | 'auto' };
}

/** `K=V, K2=V2` (values may be percent-encoded) to headers; an error text for a bad entry. */
export function parseHeaderList(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const i = part.indexOf('=');
    if (i <= 0) return `"${part.slice(0, 40)}" is not K=V`;
    const key = part.slice(0, i).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) return `"${key.slice(0, 40)}" is not a header name`;
    let value = part.slice(i + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // used as typed
    }
    if (/[\r\n]/.test(value)) return 'header values cannot contain line breaks';
    out[key] = value;
  }
  return out;
}

function rangeText(s: number): string {
  return s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`;
}

export function register(ctx: FeatureContext): vscode.Disposable {
  const disposables: vscode.Disposable[] = [];
  const secrets = ctx.extension.secrets;
  let remote: RemotePrometheus | undefined;
  let remoteLabel = 'prod';
  let forward: Omit<ForwardOptions, 'log' | 'counters'> | undefined;
  /** Errors already shown as a notification (the log has each once too). */
  const shown = new Set<string>();

  const showOnce = (key: string, message: string, settingId: string) => {
    if (shown.has(key)) return;
    shown.add(key);
    void vscode.window.showWarningMessage(`Routelens: ${message}`, 'Open Settings', 'Show Extension Output').then((pick) => {
      if (pick === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', settingId);
      if (pick === 'Show Extension Output') void vscode.commands.executeCommand('routelens.showLogs');
    });
  };

  const applyToRuntime = () => {
    const rt = ctx.runtime();
    if (!rt) return;
    rt.setForward(forward);
    if (rt.forwardError) showOnce(`forward-config:${rt.forwardError}`, `forwarding is off: ${rt.forwardError}`, 'routelens.upstream.endpoint');
    rt.attachRemote(remote);
  };

  const configureForward = async () => {
    const s = readUpstream(ctx);
    if (!s.endpoint) {
      forward = undefined;
    } else {
      let headers: Record<string, string> = {};
      try {
        const raw = await secrets.get(HEADERS_SECRET);
        if (raw) headers = JSON.parse(raw) as Record<string, string>;
      } catch {
        ctx.log.warn('[upstream] the stored upstream headers could not be read; sending none');
      }
      forward = { url: s.endpoint, protocol: s.protocol, headers, signals: s.signals, services: s.services, redactPatterns: s.redactPatterns };
    }
    applyToRuntime();
  };

  const configureRemote = async () => {
    remote?.dispose();
    remote = undefined;
    ctx.remoteSource.set(undefined);
    const s = readRemote(ctx);
    remoteLabel = s.label;
    if (s.url) {
      let auth: RemoteAuth | undefined;
      try {
        const raw = await secrets.get(AUTH_SECRET);
        if (raw) auth = JSON.parse(raw) as RemoteAuth;
      } catch {
        ctx.log.warn('[upstream] the stored Prometheus credentials could not be read');
      }
      const opts: RemotePrometheusOptions = { url: s.url, selector: s.selector || undefined, preset: s.preset, range: s.range, refreshMs: s.refreshSeconds * 1000, auth, log: ctx.log };
      try {
        remote = new RemotePrometheus(opts);
        remote.start();
        ctx.remoteSource.set(remote);
      } catch (e) {
        showOnce(`remote-config:${(e as Error).message}`, `production figures are off: ${(e as Error).message}`, 'routelens.remotePrometheus.url');
      }
    }
    applyToRuntime();
  };

  // The lens and hover: `prod p95 120 ms` beside the local figures.
  const removeLens = setLensExtraProvider({
    lens: (method, route) => {
      const f = remote?.figures(method === 'ANY' ? '' : method, route);
      if (!f || f.p95Ms === null) return undefined;
      return `${remoteLabel} p95 ${formatMs(f.p95Ms)}`;
    },
    hover: (method, route) => {
      const f = remote?.figures(method === 'ANY' ? '' : method, route);
      if (!f) return undefined;
      const q = (v: number | null) => (v === null ? '–' : formatMs(v));
      const age = Math.max(0, Math.round((Date.now() - f.asOfMs) / 1000));
      return `${remoteLabel} (Prometheus, last ${rangeText(f.rangeS)}, ${age} s ago): p50 ${q(f.p50Ms)} · p95 ${q(f.p95Ms)} · p99 ${q(f.p99Ms)} · ${f.rps.toFixed(f.rps < 10 ? 2 : 1)} req/s · ${(f.errorRate * 100).toFixed(1)}% errors`;
    },
  });
  disposables.push({ dispose: removeLens });

  // A small status bar item, only while something is configured.
  const item = vscode.window.createStatusBarItem('routelens.upstream', vscode.StatusBarAlignment.Left, 99);
  item.name = 'Routelens Upstream';
  disposables.push(item);
  const render = () => {
    const rt = ctx.runtime();
    const f: ForwarderState | undefined = rt?.forwarder?.state();
    const r: RemoteState | undefined = remote?.state();
    if (!forward && !remote) {
      item.hide();
      return;
    }
    const parts: string[] = [];
    const tip = new vscode.MarkdownString(undefined, false);
    tip.supportHtml = false;
    tip.appendMarkdown('**Routelens beyond this machine**\n\n');
    let warn = false;
    if (forward) {
      if (f) {
        const sent = f.sent.traces + f.sent.logs + f.sent.metrics;
        const queued = f.queued.traces + f.queued.logs + f.queued.metrics;
        const dropped = f.dropped.traces + f.dropped.logs + f.dropped.metrics + f.failed.traces + f.failed.logs + f.failed.metrics;
        warn ||= f.state === 'retrying' || f.state === 'failing';
        parts.push(`$(cloud-upload) ${f.state === 'retrying' ? 'retrying' : f.state === 'failing' ? 'failing' : sent}`);
        tip.appendText(`Forwarding to ${f.endpoint} (${f.protocol}): ${f.state}; ${sent} sent, ${queued} queued (of ${f.queueLimit} per signal), ${dropped} dropped${f.lastError ? `; last error: ${f.lastError.message}` : ''}`);
        if (f.lastError && (f.state === 'retrying' || f.state === 'failing')) showOnce(`forward:${f.lastError.message.replace(/\d+/g, '#')}`, `forwarding to ${f.endpoint}: ${f.lastError.message}`, 'routelens.upstream.endpoint');
      } else {
        parts.push('$(cloud-upload) –');
        tip.appendText(rt ? 'Forwarding is off (see the log)' : 'Forwarding runs in the window that owns the collector');
      }
      tip.appendMarkdown('\n\n');
    }
    if (remote && r) {
      warn ||= r.state === 'error';
      parts.push(`$(graph) ${remoteLabel}${r.state === 'error' ? ' $(warning)' : ''}`);
      tip.appendText(`${remoteLabel} figures from ${r.url}${r.selector ? ` ${r.selector}` : ''} (${r.preset ?? 'preset not found yet'}, last ${rangeText(r.rangeS)}): ${r.state === 'ok' ? `${r.routes} route${r.routes === 1 ? '' : 's'}` : r.state}${r.error ? `: ${r.error}` : ''}`);
      if (r.state === 'error' && r.error) showOnce(`remote:${r.error}`, `production figures from ${r.url}: ${r.error}`, 'routelens.remotePrometheus.url');
      if (r.state === 'ok') for (const k of [...shown]) if (k.startsWith('remote:')) shown.delete(k);
    }
    item.text = parts.join('  ');
    item.tooltip = tip;
    item.backgroundColor = warn ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    item.command = 'routelens.showLogs';
    item.show();
  };
  const timer = setInterval(render, 2000);
  disposables.push({ dispose: () => clearInterval(timer) });

  disposables.push(
    ctx.onDidChangeCollector(() => {
      applyToRuntime();
      render();
    }),
    ctx.onDidChangeSettings((e) => {
      if (e.affectsConfiguration('routelens.upstream') || e.affectsConfiguration('routelens.agents.redactPatterns')) void configureForward().then(render);
      if (e.affectsConfiguration('routelens.remotePrometheus')) void configureRemote().then(render);
    }),
    vscode.commands.registerCommand('routelens.setUpstreamHeaders', async () => {
      const text = await vscode.window.showInputBox({
        title: 'Routelens: headers for the upstream OpenTelemetry Collector',
        prompt: 'K=V pairs separated by commas, as in OTEL_EXPORTER_OTLP_HEADERS (e.g. Authorization=Bearer%20abc, x-api-key=123). Kept in VS Code secret storage. Empty clears them.',
        password: true,
        ignoreFocusOut: true,
        validateInput: (v) => {
          const h = parseHeaderList(v);
          return typeof h === 'string' ? h : undefined;
        },
      });
      if (text === undefined) return;
      const headers = parseHeaderList(text);
      if (typeof headers === 'string') return;
      if (Object.keys(headers).length) await secrets.store(HEADERS_SECRET, JSON.stringify(headers));
      else await secrets.delete(HEADERS_SECRET);
      void vscode.window.showInformationMessage(`Routelens: ${Object.keys(headers).length ? `${Object.keys(headers).length} upstream header(s) stored` : 'upstream headers cleared'}`);
      await configureForward();
    }),
    vscode.commands.registerCommand('routelens.setRemotePrometheusCredentials', async () => {
      const pick = await vscode.window.showQuickPick(
        [
          { label: 'Bearer token', auth: 'bearer' as const },
          { label: 'Basic auth (user and password)', auth: 'basic' as const },
          { label: 'No credentials', auth: 'none' as const },
        ],
        { title: 'Routelens: credentials for the remote Prometheus (kept in VS Code secret storage)' },
      );
      if (!pick) return;
      if (pick.auth === 'none') await secrets.delete(AUTH_SECRET);
      else if (pick.auth === 'bearer') {
        const token = await vscode.window.showInputBox({ title: 'Bearer token', password: true, ignoreFocusOut: true });
        if (!token) return;
        await secrets.store(AUTH_SECRET, JSON.stringify({ bearerToken: token.trim() }));
      } else {
        const username = await vscode.window.showInputBox({ title: 'User', ignoreFocusOut: true });
        if (!username) return;
        const password = await vscode.window.showInputBox({ title: 'Password', password: true, ignoreFocusOut: true });
        if (password === undefined) return;
        await secrets.store(AUTH_SECRET, JSON.stringify({ basic: { username, password } }));
      }
      for (const k of [...shown]) if (k.startsWith('remote:')) shown.delete(k);
      await configureRemote();
    }),
  );

  void configureForward().then(render);
  void configureRemote().then(render);

  return vscode.Disposable.from(...disposables, {
    dispose: () => {
      remote?.dispose();
      remote = undefined;
      ctx.remoteSource.set(undefined);
      const rt = ctx.runtime();
      rt?.attachRemote(undefined);
      rt?.setForward(undefined);
    },
  });
}
