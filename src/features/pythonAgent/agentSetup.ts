/**
 * Turns on the bundled Python agent with no code change: Python debug sessions (and, if asked,
 * integrated terminals) get the agent's bootstrap folder on PYTHONPATH and the collector's
 * endpoint. The bootstrap's sitecustomize starts the agent and then chains to the user's own.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Logger } from '../../core/log';
import { DebugOutputParser, DebugRecordMerger } from '../../core/debugOutput';
import { DebugSessionPauses, type PauseSink } from '../../core/debugPauses';
import type { TelemetrySink } from '../../core/sink';
import type { TelemetryStore } from '../../core/store/store';
import type { AutoInstrument } from '../../settings';


/** What apps need to be let in: the token, whether ingest asks for it, where containers reach the collector. */
export interface IngestAccess {
  token: string;
  ingestNeedsToken: boolean;
  /** `http://host.docker.internal:<port>` when the collector listens beyond loopback. */
  containerEndpoint?: string;
}

/** The token the way OTLP exporters read headers from OTEL_EXPORTER_OTLP_HEADERS (values URL-encoded). */
export function otlpAuthHeader(token: string): string {
  return `Authorization=Bearer%20${encodeURIComponent(token)}`;
}

/**
 * The environment for an app in a container, as docker-compose `environment:` lines: the agent
 * folder mounted at /opt/routelens (see docs/containers.md), the collector through
 * host.docker.internal, the token.
 */
export function containerEnvironment(containerEndpoint: string, token: string): string {
  return [
    `      ROUTELENS_ENDPOINT: "${containerEndpoint}"`,
    `      ROUTELENS_TOKEN: "${token}"`,
    '      PYTHONPATH: "/opt/routelens/bootstrap"',
    `      OTEL_EXPORTER_OTLP_HEADERS: "${otlpAuthHeader(token)}"`,
  ].join('\n');
}

/** The environment a Python process needs to report to Routelens. */
export function agentEnvironment(bootstrapDir: string, endpoint: string, existingPythonPath: string | undefined): Record<string, string> {
  const parts = (existingPythonPath ?? '').split(path.delimiter).filter((p) => p && p !== bootstrapDir);
  return {
    PYTHONPATH: [bootstrapDir, ...parts].join(path.delimiter),
    ROUTELENS_ENDPOINT: endpoint,
  };
}

const PYTHON_DEBUG_TYPES = ['debugpy', 'python'];

export class AgentSetup implements vscode.Disposable, vscode.DebugConfigurationProvider {
  private readonly disposables: vscode.Disposable[] = [];
  readonly bootstrapDir: string;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly mode: () => AutoInstrument,
    /** `routelens.agent.logLevel`, when it is not the agent's own default (INFO). */
    private readonly logLevel: () => string | undefined,
    private readonly endpoint: () => string | undefined,
    /** Where the debug console's records are checked for twins the agent already sent. */
    private readonly store: TelemetryStore,
    /** Where the debug console's tracebacks and log lines, and the debugger's stops, go (the collector's sink: the live stream sees them too). */
    private readonly sink: TelemetrySink & PauseSink,
    private readonly log: Logger,
    private readonly access: () => IngestAccess = () => ({ token: '', ingestNeedsToken: false }),
  ) {
    this.bootstrapDir = vscode.Uri.joinPath(context.extensionUri, 'agents', 'python', 'bootstrap').fsPath;
    for (const type of PYTHON_DEBUG_TYPES) {
      this.disposables.push(
        vscode.debug.registerDebugConfigurationProvider(type, this),
        vscode.debug.registerDebugAdapterTrackerFactory(type, { createDebugAdapterTracker: (s) => this.tracker(s) }),
      );
    }
    this.disposables.push(vscode.commands.registerCommand('routelens.copyAgentEnvironment', () => this.copyEnvironment()));
    this.updateTerminalEnvironment();
  }

  /** Adds the agent to Python debug sessions unless the user turned it off (or set it up already). */
  resolveDebugConfiguration(_folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): vscode.DebugConfiguration {
    const endpoint = this.endpoint();
    if (this.mode() === 'off' || !endpoint) return config;
    if (config.request === 'attach') {
      this.adviseAttach(config);
      return config;
    }
    if (config.request !== 'launch') return config;
    const env: Record<string, string> = { ...(config.env ?? {}) };
    if (env.ROUTELENS_DISABLED === '1') return config;
    Object.assign(env, agentEnvironment(this.bootstrapDir, env.ROUTELENS_ENDPOINT ?? endpoint, env.PYTHONPATH ?? process.env.PYTHONPATH));
    // Apps already on OpenTelemetry send to the same collector.
    env.OTEL_EXPORTER_OTLP_ENDPOINT ??= endpoint;
    const level = this.logLevel();
    if (level) env.ROUTELENS_LOG_LEVEL ??= level;
    const access = this.access();
    if (access.ingestNeedsToken && access.token) {
      env.ROUTELENS_TOKEN ??= access.token;
      env.OTEL_EXPORTER_OTLP_HEADERS ??= otlpAuthHeader(access.token);
    }
    this.log.info(`[agent] instrumenting debug session "${config.name}" (PYTHONPATH += ${this.bootstrapDir})`);
    return { ...config, env };
  }

  private readonly advised = new Set<string>();

  /**
   * An attach configuration joins a process that is already running: its environment cannot be
   * changed any more, so instead of silence the user gets the environment to start it with. A
   * child process of a launched session (debugpy's subProcessId) already has the agent.
   */
  private adviseAttach(config: vscode.DebugConfiguration): void {
    if (config.subProcessId !== undefined || this.advised.has(config.name)) return;
    this.advised.add(config.name);
    const access = this.access();
    const where = config.connect?.host ?? config.host;
    const remote = typeof where === 'string' && !/^(127\.|localhost$|::1$)/.test(where);
    this.log.info(`[agent] "${config.name}" attaches to a running process: Routelens cannot add its agent; offering the environment to start it with`);
    const actions = ['Copy Environment', ...(access.containerEndpoint ? ['Copy for a Container'] : []), 'Open Guide'];
    const message = `Routelens: "${config.name}" attaches to a process that is already running, so Routelens cannot add its agent to it. Start that process with the Routelens environment (${remote || access.containerEndpoint ? 'for a container: ROUTELENS_ENDPOINT=http://host.docker.internal:<port>, ROUTELENS_TOKEN and the agent on PYTHONPATH' : 'ROUTELENS_ENDPOINT and the agent on PYTHONPATH'}) to see its requests.`;
    void vscode.window.showInformationMessage(message, ...actions).then((pick) => {
      if (pick === 'Copy Environment') void this.copyEnvironment();
      if (pick === 'Copy for a Container') void this.copyContainerEnvironment();
      if (pick === 'Open Guide') void vscode.env.openExternal(vscode.Uri.parse('https://github.com/routelens/routelens/blob/main/docs/containers.md'));
    });
  }

  private async copyContainerEnvironment(): Promise<void> {
    const access = this.access();
    if (!access.containerEndpoint) return;
    const text = `    # Routelens: mount the agent read-only and point it at the collector\n    volumes:\n      - "${path.dirname(this.bootstrapDir)}:/opt/routelens:ro"\n    environment:\n${containerEnvironment(access.containerEndpoint, access.token)}\n`;
    await vscode.env.clipboard.writeText(text);
    void vscode.window.showInformationMessage('Routelens: copied the docker-compose lines for your service (volumes and environment).');
  }

  /** Integrated terminals get the agent too when the setting asks for it. */
  updateTerminalEnvironment(): void {
    const collection = this.context.environmentVariableCollection;
    collection.clear();
    const endpoint = this.endpoint();
    if (this.mode() !== 'debugAndTerminal' || !endpoint) return;
    collection.description = 'Routelens: Python apps started here report to Routelens';
    collection.prepend('PYTHONPATH', this.bootstrapDir + path.delimiter);
    collection.replace('ROUTELENS_ENDPOINT', endpoint);
    const level = this.logLevel();
    if (level) collection.replace('ROUTELENS_LOG_LEVEL', level);
    const access = this.access();
    if (access.ingestNeedsToken && access.token) collection.replace('ROUTELENS_TOKEN', access.token);
  }

  private async copyEnvironment(): Promise<void> {
    const endpoint = this.endpoint();
    if (!endpoint) {
      void vscode.window.showWarningMessage('Routelens: the collector is not running; start it with Routelens: Restart Collector.');
      return;
    }
    const env = agentEnvironment(this.bootstrapDir, endpoint, undefined);
    const access = this.access();
    const token = access.ingestNeedsToken && access.token ? `export ROUTELENS_TOKEN="${access.token}"\nexport OTEL_EXPORTER_OTLP_HEADERS="${otlpAuthHeader(access.token)}"\n` : '';
    const text = `export PYTHONPATH="${env.PYTHONPATH}\${PYTHONPATH:+:$PYTHONPATH}"\nexport ROUTELENS_ENDPOINT="${endpoint}"\n${token}`;
    await vscode.env.clipboard.writeText(text);
    void vscode.window.showInformationMessage('Routelens: copied the environment for running your app outside VS Code (paste it into your shell).');
  }

  /**
   * Reads the debuggee's output for tracebacks and structlog lines while it runs, and follows
   * when its process is stopped at a breakpoint (each child process has a session of its own).
   */
  private tracker(session: vscode.DebugSession): vscode.DebugAdapterTracker {
    const name = typeof session.configuration.env?.ROUTELENS_SERVICE_NAME === 'string' ? session.configuration.env.ROUTELENS_SERVICE_NAME : session.name;
    // One record once: a console line the agent also sent is dropped; what is kept goes through
    // the sink (the live stream, or the owning window), like every other source.
    const merger = new DebugRecordMerger({ hasTwinOf: (log, ms) => this.store.hasTwinOf(log, ms), addLogs: (logs) => this.sink.addLogs(logs), counters: this.store.counters });
    const parser = new DebugOutputParser({ serviceName: name, attributes: { 'service.name': name } }, (log) => merger.add(log));
    const pauses = new DebugSessionPauses(this.sink);
    let loggedStop = false;
    return {
      onDidSendMessage: (m: { type?: string; event?: string; body?: { category?: string; output?: string } }) => {
        if (m.type !== 'event') return;
        if (m.event !== 'output') {
          const wasStopped = pauses.stopped;
          pauses.fromAdapter(m);
          if (!wasStopped && pauses.stopped && !loggedStop) {
            loggedStop = true;
            this.log.info(`[debug] "${session.name}" (pid ${pauses.processId ?? 'not known yet'}) stopped: its requests that span a stop are marked paused and kept out of the latency figures`);
          }
          return;
        }
        if (!m.body?.output) return;
        const cat = m.body.category ?? 'console';
        if (cat === 'stderr' || cat === 'stdout' || cat === 'console') parser.push(m.body.output);
      },
      onWillReceiveMessage: (m: unknown) => pauses.toAdapter(m),
      onExit: () => {
        pauses.end();
        parser.flush(); // the merger decides what is left after its grace time (the agent's last batch may still come)
      },
      onWillStopSession: () => {
        pauses.end();
        parser.flush(); // the merger decides what is left after its grace time (the agent's last batch may still come)
      },
    };
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
