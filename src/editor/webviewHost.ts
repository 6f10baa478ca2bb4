/**
 * What the dashboard (a webview view) and the trace panel (a webview panel) share: the HTML and
 * options, the `ready` handshake (a hidden webview's document is destroyed and the next one says
 * `ready` when it can listen), visibility, a throttle of at most one update per interval, message
 * validation and disposal.
 */
import * as vscode from 'vscode';
import type { Logger } from '../core/log';
import { webviewHtml, webviewOptions } from './webviewHtml';

/** At most four updates a second reach a webview, however fast telemetry arrives. */
export const UPDATE_INTERVAL_MS = 250;

export interface WebviewHostOptions<In extends { type: string }> {
  extensionUri: vscode.Uri;
  /** The bundle in dist/webview/ and the styles in media/. */
  script: string;
  styles: string[];
  title: string;
  /** For the log line about a message that failed validation: `[name] ignored …`. */
  name: string;
  log: Logger;
  isMessage(m: unknown): m is In;
  /** The webview's document listens now: send it everything. */
  onReady(): void;
  /** Every other valid message. */
  onMessage(m: Exclude<In, { type: 'ready' }>): void;
  /** The throttled update that `schedule()` asks for. */
  onUpdate(): void;
  /** After the webview was closed. */
  onDisposed?(): void;
  intervalMs?: number;
}

/** A webview view or panel, as far as the host needs it. */
interface Surface {
  readonly webview: vscode.Webview;
  readonly visible: boolean;
  readonly onDidDispose: vscode.Event<void>;
}

export class WebviewHost<In extends { type: string }, Out> implements vscode.Disposable {
  private surface: Surface | undefined;
  private ready = false;
  private timer: NodeJS.Timeout | undefined;
  private lastSent = 0;
  private surfaceDisposables: vscode.Disposable[] = [];

  constructor(private readonly opts: WebviewHostOptions<In>) {}

  /** Takes over a webview view (resolveWebviewView) or panel (created or restored). */
  attach(surface: Surface, onDidChangeVisibility: vscode.Event<unknown>): void {
    this.detach();
    this.surface = surface;
    this.ready = false;
    surface.webview.options = webviewOptions(this.opts.extensionUri);
    surface.webview.html = webviewHtml(surface.webview, this.opts.extensionUri, { script: this.opts.script, styles: this.opts.styles, title: this.opts.title });
    this.surfaceDisposables.push(
      surface.webview.onDidReceiveMessage((m: unknown) => this.receive(m)),
      onDidChangeVisibility(() => {
        if (!surface.visible) this.ready = false;
      }),
      surface.onDidDispose(() => {
        if (this.surface !== surface) return;
        this.detach();
        this.opts.onDisposed?.();
      }),
    );
  }

  /** A webview is attached (it may be hidden). */
  get attached(): boolean {
    return this.surface !== undefined;
  }

  get visible(): boolean {
    return !!this.surface?.visible;
  }

  /** Attached, visible and listening: a message posted now is seen. */
  get live(): boolean {
    return !!this.surface && this.ready && this.surface.visible;
  }

  post(m: Out): void {
    this.lastSent = Date.now();
    void this.surface?.webview.postMessage(m);
  }

  /** Asks for `onUpdate` at most once per interval after the last post. */
  schedule(): void {
    if (this.timer || !this.surface) return;
    const wait = Math.max(0, this.lastSent + (this.opts.intervalMs ?? UPDATE_INTERVAL_MS) - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.opts.onUpdate();
    }, wait);
  }

  private receive(m: unknown): void {
    if (!this.opts.isMessage(m)) {
      this.opts.log.warn(`[${this.opts.name}] ignored an unexpected message from the webview`);
      return;
    }
    if (m.type === 'ready') {
      this.ready = true;
      this.opts.onReady();
      return;
    }
    this.opts.onMessage(m as Exclude<In, { type: 'ready' }>);
  }

  private detach(): void {
    this.surface = undefined;
    this.ready = false;
    for (const d of this.surfaceDisposables.splice(0)) d.dispose();
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.detach();
  }
}
