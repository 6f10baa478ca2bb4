/**
 * The commands the composition root answers itself (the collector, the data, the logs). Each
 * feature registers its own commands in its register().
 */
import * as vscode from 'vscode';
import type { Logger } from '../core/log';
import type { TelemetryStore } from '../core/store/store';
import { exportData, importData } from './dataTransfer';

export interface CommandDeps {
  store: TelemetryStore;
  log: Logger;
  channel: vscode.LogOutputChannel;
  endpoint(): string;
  restart(): Promise<void>;
}

export function registerCommands(d: CommandDeps): vscode.Disposable {
  const table: Record<string, (...args: unknown[]) => unknown> = {
    'routelens.restartCollector': () => vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Routelens: restarting the collector' }, () => d.restart()),
    'routelens.clearData': () => {
      d.store.clear();
      d.log.info('data cleared');
    },
    'routelens.copyOtlpEndpoint': async () => {
      const endpoint = d.endpoint();
      await vscode.env.clipboard.writeText(endpoint);
      void vscode.window.showInformationMessage(`Routelens: copied ${endpoint} (set OTEL_EXPORTER_OTLP_ENDPOINT to it)`);
    },
    'routelens.showLogs': () => d.channel.show(),
    'routelens.exportData': () => exportData(d.store),
    'routelens.importData': (uri) => importData(d.store, d.log, uri instanceof vscode.Uri ? uri : undefined),
  };
  return vscode.Disposable.from(...Object.entries(table).map(([id, f]) => vscode.commands.registerCommand(id, f)));
}
