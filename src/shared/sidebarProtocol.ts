/**
 * The messages between the extension host and the sidebar webview. Both ends import this module;
 * each checks what it receives with the guards below, since a webview message is untrusted input.
 */

export interface RouteRow {
  service: string;
  method: string;
  route: string;
  count: number;
  rps: number;
  errorRate: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  hasCode: boolean;
  /** Requests per second over the last 60 seconds, oldest first (sparkline). */
  spark: number[];
}

export interface ErrorRow {
  fingerprint: string;
  service: string;
  type: string;
  message: string;
  count: number;
  lastSeenMs: number;
  route?: string;
  where?: string;
}

export interface CollectorView {
  state: 'starting' | 'listening' | 'portInUse' | 'error' | 'stopped';
  endpoint: string;
  message?: string;
}

export interface SidebarState {
  collector: CollectorView;
  services: string[];
  windowSec: number;
  paused: boolean;
  routes: RouteRow[];
  errors: ErrorRow[];
  totals: { rps: number; p95Ms: number | null; errorRate: number; requests: number };
}

export type HostToSidebar = { type: 'state'; state: SidebarState };

export type SidebarToHost =
  | { type: 'ready' }
  | { type: 'openRoute'; service: string; method: string; route: string }
  | { type: 'openError'; fingerprint: string }
  | { type: 'setWindow'; seconds: number }
  | { type: 'command'; command: SidebarCommand };

export const SIDEBAR_COMMANDS = ['copyEndpoint', 'restartCollector', 'clearData', 'showLogs', 'togglePause', 'debugHelp', 'copyEnv'] as const;
export type SidebarCommand = (typeof SIDEBAR_COMMANDS)[number];
export const WINDOWS = [60, 300, 900] as const;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isStr = (v: unknown): v is string => typeof v === 'string';

export function isSidebarToHost(m: unknown): m is SidebarToHost {
  if (!isObj(m) || !isStr(m.type)) return false;
  switch (m.type) {
    case 'ready':
      return true;
    case 'openRoute':
      return isStr(m.service) && isStr(m.method) && isStr(m.route);
    case 'openError':
      return isStr(m.fingerprint);
    case 'setWindow':
      return typeof m.seconds === 'number' && (WINDOWS as readonly number[]).includes(m.seconds);
    case 'command':
      return isStr(m.command) && (SIDEBAR_COMMANDS as readonly string[]).includes(m.command);
    default:
      return false;
  }
}

export function isHostToSidebar(m: unknown): m is HostToSidebar {
  return isObj(m) && m.type === 'state' && isObj(m.state) && Array.isArray((m.state as Record<string, unknown>).routes);
}
