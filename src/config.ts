import * as vscode from 'vscode';
import type { PathMapping } from './core/pathMapping';
import type { ProblemsConfig, SeveritySetting } from './views/errorDiagnostics';

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
  autoInstrument: 'debug' | 'debugAndTerminal' | 'off';
  persistence: boolean;
  prometheus: { targets: (string | { url: string; service?: string })[]; scrapeIntervalSeconds: number };
  lens: { enabled: boolean; decorations: boolean; latencyBudgetMs: number };
}

export function readConfig(): RoutelensConfig {
  const c = vscode.workspace.getConfiguration('routelens');
  return {
    collector: {
      port: c.get<number>('collector.port', 4318),
      listenAddress: (c.get<string>('collector.listenAddress', '127.0.0.1') || '127.0.0.1').trim(),
      requireTokenForIngest: c.get<boolean>('collector.requireTokenForIngest', false),
      grpcPort: c.get<number>('collector.grpcPort', 4317),
      allowedOrigins: c.get<string[]>('collector.allowedOrigins', []),
      maxMessageBytes: c.get<number>('collector.maxMessageBytes', 4 * 1024 * 1024),
    },
    store: {
      maxSpans: c.get<number>('store.maxSpans', 20000),
      maxLogs: c.get<number>('store.maxLogs', 10000),
      maxMegabytes: c.get<number>('store.maxMegabytes', 64),
    },
    windowSeconds: c.get<number>('windowSeconds', 60),
    persistence: c.get<boolean>('persistence.enabled', true),
    prometheus: {
      targets: c.get<unknown[]>('prometheus.targets', []).filter((t): t is string | { url: string; service?: string } => typeof t === 'string' || (typeof t === 'object' && t !== null && typeof (t as { url?: unknown }).url === 'string')),
      scrapeIntervalSeconds: Math.max(1, c.get<number>('prometheus.scrapeIntervalSeconds', 5)),
    },
    autoInstrument: c.get<'debug' | 'debugAndTerminal' | 'off'>('autoInstrument', 'debug'),
    lens: {
      enabled: c.get<boolean>('codeLens.enabled', true),
      decorations: c.get<boolean>('decorations.enabled', true),
      latencyBudgetMs: c.get<number>('latencyBudgetMs', 200),
    },
    problems: {
      errorSeverity: c.get<SeveritySetting>('problems.errorSeverity', 'error'),
      warningSeverity: c.get<SeveritySetting>('problems.warningSeverity', 'warning'),
      findingSeverity: c.get<SeveritySetting>('problems.findingSeverity', 'warning'),
      clearAfterMinutes: c.get<number>('problems.clearAfterMinutes', 30),
      pathMappings: c
        .get<PathMapping[]>('pathMappings', [])
        .filter((m) => m && typeof m.remoteRoot === 'string' && typeof m.localRoot === 'string')
        .map((m) => ({ remoteRoot: m.remoteRoot, localRoot: m.localRoot.replace('${workspaceFolder}', vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '') })),
    },
  };
}

/**
 * Settings whose change needs the collector restarted (the others apply live; `routelens.store.*`
 * resizes the store in place, keeping the newest data that fits).
 */
export const RESTART_KEYS = ['routelens.collector.port', 'routelens.collector.grpcPort', 'routelens.collector.listenAddress', 'routelens.collector.requireTokenForIngest', 'routelens.collector.allowedOrigins', 'routelens.collector.maxMessageBytes'];
