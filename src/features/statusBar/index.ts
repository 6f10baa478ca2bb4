/** The status bar item: the collector's state and a live summary (req/s, p95). */
import * as vscode from 'vscode';
import type { FeatureContext } from '../context';
import { StatusBar } from './statusBar';

export function register(ctx: FeatureContext): vscode.Disposable {
  const bar = new StatusBar(ctx.store, () => ctx.collector(), () => ctx.windowSeconds());
  ctx.probes.statusBarText = () => bar.text;
  return vscode.Disposable.from(
    bar,
    ctx.onDidChangeCollector(() => bar.update()),
    ctx.tick.every(2, () => bar.update()),
  );
}
