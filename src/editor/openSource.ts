import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { Logger } from '../core/log';
import { mapToLocal, type PathMapping } from '../core/pathMapping';

/**
 * Opens a file an app reported (a handler, a stack frame) at its line, through the path mappings
 * and the workspace folders, since an app in a container reports its own paths.
 */
export async function openSourceLocation(loc: { file: string; line: number }, pathMappings: readonly PathMapping[], log: Logger, opts: { viewColumn?: vscode.ViewColumn } = {}): Promise<boolean> {
  const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
  const local = loc.file ? mapToLocal(loc.file, [...pathMappings], roots, (p) => fs.existsSync(p)) : undefined;
  if (!local) {
    log.info(`cannot open ${loc.file}: not found on this machine`);
    void vscode.window.showInformationMessage(`Routelens: ${loc.file || 'the file'} is not on this machine (a path mapping in routelens.pathMappings can point to it).`);
    return false;
  }
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(local));
  const line = Math.min(Math.max(0, loc.line - 1), Math.max(0, doc.lineCount - 1));
  const text = doc.lineAt(line).text;
  const col = text.length - text.trimStart().length;
  await vscode.window.showTextDocument(doc, { selection: new vscode.Range(line, col, line, col), preview: true, viewColumn: opts.viewColumn });
  return true;
}
