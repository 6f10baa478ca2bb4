/**
 * Every feature's register(), in the order they start. A new feature adds one line here.
 */
import type * as vscode from 'vscode';
import type { FeatureContext } from './context';
import { register as runs } from './runs';

export const FEATURES: readonly ((ctx: FeatureContext) => vscode.Disposable)[] = [runs];
