import { handleQuery } from '../collector/queryApi';
import type { TelemetryStore } from '../store/store';
import type { QueryFn } from './tools';

/** The query API answered from a store in this process (VS Code's window, tests). */
export function inProcessQuery(store: TelemetryStore): QueryFn {
  const info = { counters: store.counters, connectionCount: 0, port: 0 };
  return async (path, params) => handleQuery(path, new URLSearchParams(params), store, info);
}
