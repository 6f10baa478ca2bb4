/**
 * The announce policy: an agent whose app serves /metrics says so in its hello, and the collector
 * scrapes it under the agent's service name, for loopback URLs only and up to a bound (each
 * refusal counted).
 */
import type { Counters } from '../counters';
import type { PrometheusScraper } from './scraper';

/** Agents may announce /metrics URLs; past this many targets announcements are refused (counted). */
const MAX_SCRAPE_TARGETS = 50;

function isLoopbackUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:') && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  } catch {
    return false;
  }
}

export function announcedTargets(prometheus: PrometheusScraper, counters: Counters): (service: string, urls: string[]) => void {
  return (service, urls) => {
    for (const url of urls) {
      if (!isLoopbackUrl(url)) {
        counters.inc('announce.rejected.notLoopback');
        continue;
      }
      if (prometheus.targets().length >= MAX_SCRAPE_TARGETS && !prometheus.targets().some((t) => t.url === url)) {
        counters.inc('announce.rejected.tooMany');
        continue;
      }
      prometheus.addTarget({ url, service }, { announced: true });
    }
  };
}
