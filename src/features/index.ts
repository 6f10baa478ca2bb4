/**
 * Every feature's register(), in the order they start. A new feature adds one line here.
 */
import type * as vscode from 'vscode';
import type { FeatureContext } from './context';
import * as agentTools from './agentTools';
import * as codeLens from './codeLens';
import * as dashboard from './dashboard';
import * as logs from './logs';
import * as problems from './problems';
import * as pythonAgent from './pythonAgent';
import * as runs from './runs';
import * as statusBar from './statusBar';
import * as traces from './traces';
import * as upstream from './upstream';

export const FEATURES: readonly ((ctx: FeatureContext) => vscode.Disposable)[] = [
  statusBar.register,
  dashboard.register,
  problems.register,
  pythonAgent.register,
  codeLens.register,
  traces.register,
  agentTools.register,
  upstream.register,
  logs.register,
  runs.register,
];
