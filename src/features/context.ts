/**
 * What the composition root hands every feature. A feature lives in `src/features/<name>/`,
 * exports one `register(ctx: FeatureContext): vscode.Disposable`, and reads everything it needs
 * from here: it never imports `src/app/` or another feature.
 */
import type * as vscode from 'vscode';
import type { Logger } from '../core/log';
import type { Runtime } from '../core/runtime';
import type { RemotePrometheus } from '../core/remote/remotePrometheus';
import type { TelemetrySink } from '../core/sink';
import type { PauseSink } from '../core/debugPauses';
import type { TelemetryStore } from '../core/store/store';
import type { RoutelensConfig, SettingsChange } from '../settings';
import type { Tick } from '../editor/tick';

/** The collector as the views show it. */
export interface CollectorStatus {
  state: 'starting' | 'listening' | 'viewer' | 'portInUse' | 'error' | 'stopped';
  endpoint: string;
  message?: string;
}

export interface FeatureContext {
  readonly extension: vscode.ExtensionContext;
  readonly store: TelemetryStore;
  readonly log: Logger;
  /** The settings now; `onDidChangeSettings` fires after they change, with the change event. */
  settings(): RoutelensConfig;
  readonly onDidChangeSettings: vscode.Event<vscode.ConfigurationChangeEvent>;
  /** The statistics window the views share (the sidebar can change it). */
  windowSeconds(): number;
  collector(): CollectorStatus;
  readonly onDidChangeCollector: vscode.Event<CollectorStatus>;
  /** The collector this window owns (undefined while starting, stopped, or as a viewer). */
  runtime(): Runtime | undefined;
  /** The collector's endpoint when one answers there (owner or viewer). */
  endpoint(): string | undefined;

  /** The same change as `onDidChangeSettings`, typed: snapshots before and after, and what it does. */
  readonly onDidApplySettings: vscode.Event<SettingsChange>;
  /** Changes the shared statistics window (the dashboard's window picker). */
  setWindowSeconds(seconds: number): void;
  /**
   * Where a feature delivers telemetry it produces itself (the debug console's tracebacks and
   * log lines) and its debugger's stops: the collector's sink when this window owns it, so the
   * live stream to other windows carries it too; the owning window when this one is a viewer
   * (the apps it debugs send their telemetry there); else the store.
   */
  readonly sink: TelemetrySink & PauseSink;
  /** The collector's ingest token (apps need it when ingest asks for one). */
  readonly token: string;
  /** Resolves once the collector has started (or failed to). */
  whenStarted(): Promise<void>;
  /** One shared once-a-second tick for what has to repaint as windows slide and rates decay. */
  readonly tick: Tick;
  /**
   * The remote Prometheus source of route figures this window reads (every window has one when
   * routelens.remotePrometheus.url is set, viewers too): the feature that configures it sets it,
   * the views that show its figures read it.
   */
  readonly remoteSource: RemoteSourceSlot;
  /** What a feature offers the test API (src/app/testApi.ts); each feature fills in its own. */
  readonly probes: FeatureProbes;
}

export interface RemoteSourceSlot {
  get(): RemotePrometheus | undefined;
  set(remote: RemotePrometheus | undefined): void;
}

/** Hooks the integration tests read through the API `activate` returns (internal). */
export interface FeatureProbes {
  statusBarText?: () => string;
  dashboardState?: () => unknown;
  lensTitles?: (uri: vscode.Uri) => Promise<string[]>;
  whenRoutesIndexed?: () => Promise<void>;
  diagnostics?: () => [string, readonly vscode.Diagnostic[]][];
  agent?: { readonly bootstrapDir: string; resolveDebugConfiguration(config: vscode.DebugConfiguration): vscode.DebugConfiguration };
  /** The MCP server definitions Routelens gives VS Code's MCP registry (undefined: this VS Code has none). */
  mcpServers?: () => McpServerInfo[];
}

/** A stdio MCP server definition as VS Code would start it. */
export interface McpServerInfo {
  label: string;
  command: string;
  args: string[];
  env: Record<string, string>;
}
