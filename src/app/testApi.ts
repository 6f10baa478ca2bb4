/** What `activate` returns: used by the integration tests; internal, not a stable API. */
import type * as vscode from 'vscode';
import type { TelemetryStore } from '../core/store/store';
import type { CollectorStatus, FeatureProbes, McpServerInfo } from '../features/context';
import type { DashboardState } from '../features/dashboard/protocol';

export interface RoutelensApi {
  readonly store: TelemetryStore;
  readonly collectorPort: number;
  /** The OTLP/gRPC port this window's collector listens on (0: off, or a viewer). */
  readonly grpcPort: number;
  readonly collectorView: CollectorStatus;
  readonly token: string;
  statusBarText(): string;
  readonly agent: { readonly bootstrapDir: string; resolveDebugConfiguration(config: vscode.DebugConfiguration): vscode.DebugConfiguration };
  /** CodeLens titles Routelens gives a document, in order. */
  lensTitles(uri: vscode.Uri): Promise<string[]>;
  saveSnapshot(): void;
  restoreSnapshot(): number;
  /** Resolves when the workspace's route handlers are indexed. */
  whenRoutesIndexed(): Promise<void>;
  /** Diagnostics Routelens currently shows, by file. */
  diagnostics(): [string, readonly vscode.Diagnostic[]][];
  /** The dashboard's state as of now (the view `routelens.dashboard`). */
  sidebarState(): DashboardState;
  restartCollector(): Promise<void>;
  /** Resolves once the collector has started (or failed to). */
  whenStarted(): Promise<void>;
  /** The MCP server definitions given to VS Code's registry; undefined when this VS Code has none. */
  mcpServers(): McpServerInfo[] | undefined;
}

/** What the composition root answers for the API; the features answer the rest through their probes. */
export interface ApiSource {
  readonly store: TelemetryStore;
  readonly token: string;
  collectorPort(): number;
  grpcPort(): number;
  collector(): CollectorStatus;
  saveSnapshot(): void;
  restoreSnapshot(): number;
  restart(): Promise<void>;
  whenStarted(): Promise<void>;
}

export function createTestApi(app: ApiSource, probes: FeatureProbes): RoutelensApi {
  const need = <T>(probe: T | undefined, name: string): T => {
    if (probe === undefined) throw new Error(`the ${name} feature is not registered`);
    return probe;
  };
  return {
    store: app.store,
    get collectorPort() {
      return app.collectorPort();
    },
    get grpcPort() {
      return app.grpcPort();
    },
    get collectorView() {
      return app.collector();
    },
    token: app.token,
    statusBarText: () => need(probes.statusBarText, 'statusBar')(),
    get agent() {
      return need(probes.agent, 'pythonAgent');
    },
    lensTitles: (uri) => need(probes.lensTitles, 'codeLens')(uri),
    saveSnapshot: () => app.saveSnapshot(),
    restoreSnapshot: () => app.restoreSnapshot(),
    whenRoutesIndexed: () => need(probes.whenRoutesIndexed, 'codeLens')(),
    diagnostics: () => need(probes.diagnostics, 'problems')(),
    sidebarState: () => need(probes.dashboardState, 'dashboard')() as DashboardState,
    mcpServers: () => probes.mcpServers?.(),
    restartCollector: () => app.restart(),
    whenStarted: () => app.whenStarted(),
  };
}
