import * as vscode from 'vscode';
import { Services, type RoutelensApi } from './services';

let services: Services | undefined;

export function activate(context: vscode.ExtensionContext): RoutelensApi {
  services = new Services(context);
  services.start();
  return services.api();
}

export async function deactivate(): Promise<void> {
  const s = services;
  services = undefined;
  await s?.dispose();
}
