/**
 * A stand-in for one VS Code window in the multi-window tests: the real CollectorHost and store in
 * their own process, answering questions over IPC.
 */
import { CollectorHost } from '../../src/core/collectorHost';
import { silentLogger } from '../../src/core/log';
import { TelemetryStore } from '../../src/core/store/store';

const [port, token] = process.argv.slice(2);
const store = new TelemetryStore();
const host = new CollectorHost({ port: Number(port), token, log: silentLogger, store, takeoverRetryMs: 300 });
host.onDidChangeState((s) => process.send?.({ type: 'state', mode: s.mode }));
void host.start();

process.on('message', (m: { type: string }) => {
  if (m.type === 'routes') process.send?.({ type: 'routes', routes: store.routeSummaries(900).map((r) => ({ route: r.route, count: r.count })), mode: host.state.mode });
  if (m.type === 'stop') void host.stop().then(() => process.exit(0));
});
