/**
 * DNS-rebinding and cross-site defences: a request must name a loopback host, and a request that
 * carries a browser Origin must come from an allowed origin.
 */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export function isLoopbackHost(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const h = hostHeader.trim().toLowerCase();
  let name = h;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return false;
    name = h.slice(0, end + 1);
    const rest = h.slice(end + 1);
    if (rest && !/^:\d{1,5}$/.test(rest)) return false;
  } else {
    const colon = h.lastIndexOf(':');
    if (colon >= 0) {
      if (!/^\d{1,5}$/.test(h.slice(colon + 1))) return false;
      name = h.slice(0, colon);
    }
  }
  return LOOPBACK_HOSTS.has(name) || name.endsWith('.localhost');
}

/** No Origin (SDKs, agents, curl) is fine; a browser Origin must be listed. */
export function isAllowedOrigin(origin: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  return allowed.includes(origin);
}
