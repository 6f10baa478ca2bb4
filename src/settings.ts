/**
 * Every `routelens.*` setting in one place: its key, its default (the same as package.json), what a
 * change does, and the typed snapshot the rest of the editor layer reads. The composition root
 * owns the one `Settings` instance; features get the snapshot and the change events through their
 * FeatureContext and read their own slice.
 */
import * as vscode from 'vscode';
import type { PathMapping } from './core/pathMapping';

export type SeveritySetting = 'error' | 'warning' | 'information' | 'hint' | 'off';
export type AutoInstrument = 'debug' | 'debugAndTerminal' | 'off';
export type PrometheusTarget = string | { url: string; service?: string };

export interface ProblemsConfig {
  errorSeverity: SeveritySetting;
  warningSeverity: SeveritySetting;
  /** N+1 patterns, slow queries and dominating downstreams. */
  findingSeverity: SeveritySetting;
  clearAfterMinutes: number;
  pathMappings: PathMapping[];
}

/** A typed snapshot of the `routelens.*` settings; keys and defaults match package.json. */
export interface RoutelensConfig {
  collector: {
    port: number;
    /** Listen address; beyond loopback, container names are accepted and ingest needs the token. */
    listenAddress: string;
    requireTokenForIngest: boolean;
    grpcPort: number;
    allowedOrigins: string[];
    maxMessageBytes: number;
  };
  store: {
    maxSpans: number;
    maxLogs: number;
    maxMegabytes: number;
  };
  /** Default statistics window in seconds for the sidebar and CodeLens. */
  windowSeconds: number;
  problems: ProblemsConfig;
  autoInstrument: AutoInstrument;
  persistence: boolean;
  prometheus: { targets: PrometheusTarget[]; scrapeIntervalSeconds: number };
  lens: { enabled: boolean; decorations: boolean; latencyBudgetMs: number };
  /** The language model tools (Copilot, `routelens mcp`). */
  agents: { tokenBudget: number; redactPatterns: string[] };
  /** Runs kept per workspace and compared with the last one. */
  runs: { enabled: boolean; keepPerService: number; maxMegabytes: number; pauseSeconds: number };
  /** The lowest level of the log records the Python agent sends (ROUTELENS_LOG_LEVEL). */
  agentLogLevel: 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'OFF';
  /** Forwarding to the team's OpenTelemetry Collector (headers are in secret storage). */
  upstream: { endpoint: string; protocol: 'http/protobuf' | 'grpc'; signals: ('traces' | 'logs' | 'metrics')[]; services: string[] };
  /** Production figures from the team's Prometheus (credentials are in secret storage). */
  remotePrometheus: { url: string; selector: string; preset: string; range: string; refreshSeconds: number; label: string };
}

/**
 * What changing a setting does:
 * - `live`: read again where it is used, nothing restarts;
 * - `resizeStore`: the store takes the new limits in place, keeping the newest data that fits;
 * - `restartCollector`: the collector stops and starts again with the new value;
 * - `reload`: only a new window picks it up (read once at start).
 */
export type SettingEffect = 'live' | 'resizeStore' | 'restartCollector' | 'reload';

/** Every setting (without the `routelens.` prefix): its default and what a change does. */
export const SETTINGS = {
  'collector.port': { default: 4318, effect: 'restartCollector' },
  'collector.listenAddress': { default: '127.0.0.1', effect: 'restartCollector' },
  'collector.requireTokenForIngest': { default: false, effect: 'restartCollector' },
  'collector.grpcPort': { default: 4317, effect: 'restartCollector' },
  'collector.allowedOrigins': { default: [] as string[], effect: 'restartCollector' },
  'collector.maxMessageBytes': { default: 4 * 1024 * 1024, effect: 'restartCollector' },
  'store.maxSpans': { default: 20000, effect: 'resizeStore' },
  'store.maxLogs': { default: 10000, effect: 'resizeStore' },
  'store.maxMegabytes': { default: 64, effect: 'resizeStore' },
  windowSeconds: { default: 60, effect: 'live' },
  'problems.errorSeverity': { default: 'error' as SeveritySetting, effect: 'live' },
  'problems.warningSeverity': { default: 'warning' as SeveritySetting, effect: 'live' },
  'problems.findingSeverity': { default: 'warning' as SeveritySetting, effect: 'live' },
  'problems.clearAfterMinutes': { default: 30, effect: 'live' },
  pathMappings: { default: [] as PathMapping[], effect: 'live' },
  autoInstrument: { default: 'debug' as AutoInstrument, effect: 'live' },
  'codeLens.enabled': { default: true, effect: 'live' },
  'decorations.enabled': { default: true, effect: 'live' },
  latencyBudgetMs: { default: 200, effect: 'live' },
  'persistence.enabled': { default: true, effect: 'live' },
  'prometheus.targets': { default: [] as unknown[], effect: 'live' },
  'prometheus.scrapeIntervalSeconds': { default: 5, effect: 'live' },
  'agents.tokenBudget': { default: 1500, effect: 'live' },
  'agents.redactPatterns': { default: [] as string[], effect: 'live' },
  'agent.logLevel': { default: 'INFO', effect: 'live' },
  'runs.enabled': { default: true, effect: 'live' },
  'runs.keepPerService': { default: 20, effect: 'live' },
  'runs.maxMegabytes': { default: 20, effect: 'live' },
  'runs.pauseSeconds': { default: 300, effect: 'live' },
  'upstream.endpoint': { default: '', effect: 'live' },
  'upstream.protocol': { default: 'http/protobuf', effect: 'live' },
  'upstream.signals': { default: ['traces', 'logs', 'metrics'] as string[], effect: 'live' },
  'upstream.services': { default: [] as string[], effect: 'live' },
  'remotePrometheus.url': { default: '', effect: 'live' },
  'remotePrometheus.selector': { default: '', effect: 'live' },
  'remotePrometheus.preset': { default: 'auto', effect: 'live' },
  'remotePrometheus.range': { default: '1h', effect: 'live' },
  'remotePrometheus.refreshSeconds': { default: 60, effect: 'live' },
  'remotePrometheus.label': { default: 'prod', effect: 'live' },
} satisfies Record<string, { default: unknown; effect: SettingEffect }>;

export type SettingKey = keyof typeof SETTINGS;

/** Settings whose change needs the collector restarted (full keys, for `affectsConfiguration`). */
export const RESTART_KEYS = keysWith('restartCollector');

function keysWith(effect: SettingEffect): string[] {
  return Object.entries(SETTINGS)
    .filter(([, s]) => s.effect === effect)
    .map(([k]) => `routelens.${k}`);
}

/**
 * Settings whose workspace values VS Code ignores until the workspace is trusted (package.json's
 * `capabilities.untrustedWorkspaces.restrictedConfigurations`): they open the collector to other
 * hosts, relax its origin check, choose what it scrapes or turn the agent on in terminals.
 */
export const RESTRICTED_KEYS = ['routelens.collector.listenAddress', 'routelens.collector.allowedOrigins', 'routelens.collector.requireTokenForIngest', 'routelens.prometheus.targets', 'routelens.autoInstrument'];

export function readConfig(): RoutelensConfig {
  const c = vscode.workspace.getConfiguration('routelens');
  const get = <K extends SettingKey>(key: K): (typeof SETTINGS)[K]['default'] => c.get(key, SETTINGS[key].default);
  return {
    collector: {
      port: get('collector.port'),
      listenAddress: (get('collector.listenAddress') || SETTINGS['collector.listenAddress'].default).trim(),
      requireTokenForIngest: get('collector.requireTokenForIngest'),
      grpcPort: get('collector.grpcPort'),
      allowedOrigins: get('collector.allowedOrigins'),
      maxMessageBytes: get('collector.maxMessageBytes'),
    },
    store: {
      maxSpans: get('store.maxSpans'),
      maxLogs: get('store.maxLogs'),
      maxMegabytes: get('store.maxMegabytes'),
    },
    windowSeconds: get('windowSeconds'),
    persistence: get('persistence.enabled'),
    prometheus: {
      targets: get('prometheus.targets').filter((t): t is PrometheusTarget => typeof t === 'string' || (typeof t === 'object' && t !== null && typeof (t as { url?: unknown }).url === 'string')),
      scrapeIntervalSeconds: Math.max(1, get('prometheus.scrapeIntervalSeconds')),
    },
    autoInstrument: get('autoInstrument'),
    lens: {
      enabled: get('codeLens.enabled'),
      decorations: get('decorations.enabled'),
      latencyBudgetMs: get('latencyBudgetMs'),
    },
    problems: {
      errorSeverity: get('problems.errorSeverity'),
      warningSeverity: get('problems.warningSeverity'),
      findingSeverity: get('problems.findingSeverity'),
      clearAfterMinutes: get('problems.clearAfterMinutes'),
      pathMappings: get('pathMappings')
        .filter((m) => m && typeof m.remoteRoot === 'string' && typeof m.localRoot === 'string')
        .map((m) => ({ remoteRoot: m.remoteRoot, localRoot: m.localRoot.replace('${workspaceFolder}', vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '') })),
    },
    agents: {
      tokenBudget: get('agents.tokenBudget'),
      redactPatterns: get('agents.redactPatterns'),
    },
    runs: {
      enabled: get('runs.enabled'),
      keepPerService: Math.max(2, Math.floor(get('runs.keepPerService'))),
      maxMegabytes: Math.max(1, get('runs.maxMegabytes')),
      pauseSeconds: Math.max(10, get('runs.pauseSeconds')),
    },
    agentLogLevel: (['DEBUG', 'INFO', 'WARNING', 'ERROR', 'OFF'] as const).find((l) => l === get('agent.logLevel')) ?? 'INFO',
    upstream: {
      endpoint: get('upstream.endpoint').trim(),
      protocol: get('upstream.protocol') === 'grpc' ? 'grpc' : 'http/protobuf',
      signals: get('upstream.signals').filter((x): x is 'traces' | 'logs' | 'metrics' => x === 'traces' || x === 'logs' || x === 'metrics'),
      services: get('upstream.services').filter((x) => typeof x === 'string'),
    },
    remotePrometheus: {
      url: get('remotePrometheus.url').trim(),
      selector: get('remotePrometheus.selector').trim(),
      preset: get('remotePrometheus.preset'),
      range: get('remotePrometheus.range').trim() || '1h',
      refreshSeconds: Math.max(5, get('remotePrometheus.refreshSeconds')),
      label: get('remotePrometheus.label').trim() || 'prod',
    },
  };
}

/** One change of the settings, typed: the snapshots before and after and what the change does. */
export interface SettingsChange {
  readonly previous: RoutelensConfig;
  readonly current: RoutelensConfig;
  /** The effects of the settings that changed (a set: several settings may change at once). */
  readonly effects: ReadonlySet<SettingEffect>;
  /** Whether a section changed, as `ConfigurationChangeEvent.affectsConfiguration` without the prefix: `problems`, `collector.port`. */
  affects(section: string): boolean;
  /** The editor's own event, for the features written against it. */
  readonly event: vscode.ConfigurationChangeEvent;
}

/** The settings now, and a typed event after each change of `routelens.*`. */
export class Settings implements vscode.Disposable {
  private config = readConfig();
  private readonly changed = new vscode.EventEmitter<SettingsChange>();
  readonly onDidChange = this.changed.event;
  private readonly sub = vscode.workspace.onDidChangeConfiguration((e) => this.apply(e));
  /** Trusting the workspace brings its values of the restricted settings into effect. */
  private readonly trustSub = vscode.workspace.onDidGrantWorkspaceTrust(() =>
    this.apply({ affectsConfiguration: (section: string) => RESTRICTED_KEYS.some((k) => k === section || k.startsWith(`${section}.`)) }),
  );

  private apply(e: vscode.ConfigurationChangeEvent): void {
    const previous = this.config;
    this.config = readConfig();
    const effects = new Set<SettingEffect>();
    for (const [key, s] of Object.entries(SETTINGS)) if (e.affectsConfiguration(`routelens.${key}`)) effects.add(s.effect);
    this.changed.fire({ previous, current: this.config, effects, affects: (section) => e.affectsConfiguration(`routelens.${section}`), event: e });
  }

  get current(): RoutelensConfig {
    return this.config;
  }

  dispose(): void {
    this.sub.dispose();
    this.trustSub.dispose();
    this.changed.dispose();
  }
}
