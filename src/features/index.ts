/**
 * Every feature's register(), in the order they start. A new feature adds one line here.
 */
import type * as vscode from 'vscode';
import type { FeatureContext } from './context';
import { register as registerLogs } from './logs/index';

export const FEATURES: readonly ((ctx: FeatureContext) => vscode.Disposable)[] = [registerLogs];
