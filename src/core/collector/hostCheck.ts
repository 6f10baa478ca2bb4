/**
 * DNS-rebinding and cross-site defences: a request must name a host this collector answers to (a
 * loopback name; when it listens beyond loopback for containers, also the names and addresses
 * containers reach the machine by), and a request that carries a browser Origin must come from an
 * allowed origin.
 */
import * as os from 'node:os';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Names a container uses for the machine it runs on: Docker Desktop and Docker's host-gateway mapping, Podman. */
export const CONTAINER_HOST_NAMES: readonly string[] = ['host.docker.internal', 'gateway.docker.internal', 'host.containers.internal'];

/** The host name of a Host header, lower-cased, IPv6 in brackets; undefined when malformed. */
export function hostNameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return undefined;
    const rest = h.slice(end + 1);
    if (rest && !/^:\d{1,5}$/.test(rest)) return undefined;
    return h.slice(0, end + 1);
  }
  const colon = h.lastIndexOf(':');
  if (colon < 0) return h;
  if (!/^\d{1,5}$/.test(h.slice(colon + 1))) return undefined;
  return h.slice(0, colon);
}

export function isLoopbackHost(hostHeader: string | undefined): boolean {
  const name = hostNameOf(hostHeader);
  return name !== undefined && (LOOPBACK_HOSTS.has(name) || name.endsWith('.localhost'));
}

/** A loopback name, or one of `extraNames` (see exposedHostNames). */
export function isAllowedHost(hostHeader: string | undefined, extraNames: ReadonlySet<string>): boolean {
  if (isLoopbackHost(hostHeader)) return true;
  const name = hostNameOf(hostHeader);
  return name !== undefined && extraNames.has(name);
}

/** Whether a listen address keeps the collector on this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined || address === '') return true;
  const a = address.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return a === 'localhost' || a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a) || a === '::ffff:127.0.0.1';
}

/**
 * The Host names a collector listening on `listenAddress` beyond loopback answers to: the
 * container names, the listen address itself, and every address of this machine's interfaces
 * (the Docker bridge's gateway, 172.17.0.1 by default, is how containers on Linux reach the host).
 */
export function exposedHostNames(listenAddress: string, interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): Set<string> {
  const names = new Set<string>(CONTAINER_HOST_NAMES);
  const add = (addr: string) => names.add(addr.includes(':') ? `[${addr.toLowerCase()}]` : addr.toLowerCase());
  const listen = listenAddress.trim().replace(/^\[(.*)\]$/, '$1');
  if (listen && listen !== '0.0.0.0' && listen !== '::') add(listen);
  for (const list of Object.values(interfaces)) for (const info of list ?? []) if (!info.internal) add(info.address.replace(/%.*$/, ''));
  return names;
}

/** No Origin (SDKs, agents, curl) is fine; a browser Origin must be listed. */
export function isAllowedOrigin(origin: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  return allowed.includes(origin);
}
