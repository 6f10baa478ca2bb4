/** The extension's entry: activate builds the composition root (src/app) and returns the test API. */
import type * as vscode from 'vscode';
import { App } from './app/app';
import type { RoutelensApi } from './app/testApi';

let app: App | undefined;

export function activate(context: vscode.ExtensionContext): RoutelensApi {
  app = new App(context);
  app.start();
  return app.api();
}

export async function deactivate(): Promise<void> {
  const a = app;
  app = undefined;
  await a?.dispose();
}
