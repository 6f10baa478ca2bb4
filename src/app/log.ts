import * as vscode from 'vscode';
import type { Logger } from '../core/log';

/** The one output channel, shared by every component through the core Logger interface. */
export function createLog(): { channel: vscode.LogOutputChannel; log: Logger } {
  const channel = vscode.window.createOutputChannel('Routelens', { log: true });
  const log: Logger = {
    trace: (m) => channel.trace(m),
    debug: (m) => channel.debug(m),
    info: (m) => channel.info(m),
    warn: (m) => channel.warn(m),
    error: (m) => channel.error(m),
  };
  return { channel, log };
}
