/**
 * What the composition root hands every feature. A feature lives in `src/features/<name>/`,
 * exports one `register(ctx: FeatureContext): vscode.Disposable`, and reads everything it needs
 * from here: it never imports `src/app/` or another feature.
 */
import type * as vscode from 'vscode';
import type { Logger } from '../core/log';
import type { Runtime } from '../core/runtime';
import type { TelemetryStore } from '../core/store/store';
import type { RoutelensConfig } from '../config';

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
}
