/** Routelens: Export Data and Import Data: OTLP JSON lines files, through the editor's dialogs. */
import * as os from 'node:os';
import * as vscode from 'vscode';
import { exportOtlpJson, importOtlpJson } from '../core/importExport';
import type { Logger } from '../core/log';
import type { TelemetryStore } from '../core/store/store';

export async function exportData(store: TelemetryStore): Promise<void> {
  const target = await vscode.window.showSaveDialog({
    title: 'Routelens: Export Data',
    defaultUri: vscode.Uri.joinPath(vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(os.homedir()), `routelens-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.otlp.jsonl`),
    filters: { 'OTLP JSON lines': ['jsonl', 'json'] },
  });
  if (!target) return;
  const text = exportOtlpJson(store);
  await vscode.workspace.fs.writeFile(target, Buffer.from(text, 'utf8'));
  const sizes = store.sizes();
  void vscode.window.showInformationMessage(`Routelens: exported ${sizes.spans} spans and ${sizes.logs} log records to ${target.fsPath}`);
}

export async function importData(store: TelemetryStore, log: Logger, uri?: vscode.Uri): Promise<void> {
  const picked = uri ? [uri] : await vscode.window.showOpenDialog({ title: 'Routelens: Import Data', canSelectMany: true, filters: { 'OTLP JSON': ['jsonl', 'json'] } });
  if (!picked?.length) return;
  let spans = 0;
  let logs = 0;
  const problems: string[] = [];
  for (const u of picked) {
    const r = importOtlpJson(store, Buffer.from(await vscode.workspace.fs.readFile(u)).toString('utf8'));
    spans += r.spans;
    logs += r.logs;
    problems.push(...r.errors.slice(0, 3).map((e) => `${u.fsPath}: ${e}`));
    if (r.rejected) problems.push(`${u.fsPath}: ${r.rejected} item(s) rejected`);
  }
  for (const p of problems) log.warn(`import: ${p}`);
  const msg = `Routelens: imported ${spans} spans and ${logs} log records.`;
  if (problems.length) void vscode.window.showWarningMessage(`${msg} Some input was skipped (see Routelens: Show Extension Output).`);
  else void vscode.window.showInformationMessage(msg);
}
