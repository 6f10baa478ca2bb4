/**
 * The bundled Python agent with no code change: Python debug sessions (and, if asked, integrated
 * terminals) get it on PYTHONPATH with the collector's endpoint; the debug console's tracebacks
 * and log lines become log records; breakpoint stops mark the requests they pause.
 */
import * as vscode from 'vscode';
import { isLoopbackAddress } from '../../core/collector/hostCheck';
import type { FeatureContext } from '../context';
import { AgentSetup } from './agentSetup';

export function register(ctx: FeatureContext): vscode.Disposable {
  const agent = new AgentSetup(ctx.extension, () => ctx.settings().autoInstrument, () => (ctx.settings().agentLogLevel === 'INFO' ? undefined : ctx.settings().agentLogLevel), () => ctx.endpoint(), ctx.store, ctx.sink, ctx.log, () => {
    const c = ctx.settings().collector;
    const loopback = isLoopbackAddress(c.listenAddress);
    return {
      token: ctx.token,
      ingestNeedsToken: c.requireTokenForIngest || !loopback,
      containerEndpoint: loopback ? undefined : `http://host.docker.internal:${ctx.runtime()?.collector.port ?? c.port}`,
    };
  });
  ctx.probes.agent = { bootstrapDir: agent.bootstrapDir, resolveDebugConfiguration: (c) => agent.resolveDebugConfiguration(undefined, c) };
  return vscode.Disposable.from(
    agent,
    ctx.onDidChangeCollector(() => agent.updateTerminalEnvironment()),
    ctx.onDidApplySettings((c) => {
      if (c.affects('autoInstrument')) agent.updateTerminalEnvironment();
    }),
  );
}
