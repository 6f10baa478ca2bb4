/**
 * One HTTP GET of a /metrics page with the limits a scraper needs: an overall deadline, a cap on
 * the body (before and after gzip), Accept negotiation, and redirects followed only within the
 * same origin (Starlette answers `/metrics` with a redirect to `/metrics/` when the exporter app is
 * mounted there; a redirect elsewhere is not where the user pointed Routelens).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as zlib from 'node:zlib';

/** OpenMetrics first, the text format as fallback, then anything, as Prometheus itself asks. */
export const SCRAPE_ACCEPT =
  'application/openmetrics-text;version=1.0.0;q=0.75,application/openmetrics-text;version=0.0.1;q=0.6,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

export interface FetchOptions {
  timeoutMs: number;
  maxBodyBytes: number;
  accept?: string;
  userAgent?: string;
  agents?: { http?: http.Agent; https?: https.Agent };
  maxRedirects?: number;
}

export interface FetchResult {
  status: number;
  contentType: string;
  body: string;
  /** Bytes of the body after decompression. */
  bytes: number;
  /** The URL finally answered (after same-origin redirects). */
  url: string;
}

export class ScrapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScrapeError';
  }
}

export async function fetchExposition(target: string | URL, opts: FetchOptions): Promise<FetchResult> {
  let url = typeof target === 'string' ? new URL(target) : target;
  const deadline = Date.now() + opts.timeoutMs;
  const maxRedirects = opts.maxRedirects ?? 5;
  for (let hop = 0; ; hop++) {
    const r = await getOnce(url, opts, deadline);
    if (r.redirect) {
      if (hop >= maxRedirects) throw new ScrapeError(`too many redirects (last to ${r.redirect})`);
      let next: URL;
      try {
        next = new URL(r.redirect, url);
      } catch {
        throw new ScrapeError(`HTTP ${r.status} with an invalid Location`);
      }
      if (next.origin !== url.origin) throw new ScrapeError(`HTTP ${r.status}: redirect to another origin (${next.origin}) not followed`);
      url = next;
      continue;
    }
    return { status: r.status, contentType: r.contentType, body: r.body, bytes: r.bytes, url: url.toString() };
  }
}

interface Once {
  status: number;
  contentType: string;
  body: string;
  bytes: number;
  redirect?: string;
}

function getOnce(url: URL, opts: FetchOptions, deadline: number): Promise<Once> {
  return new Promise<Once>((resolve, reject) => {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      reject(new ScrapeError(`timed out after ${opts.timeoutMs} ms`));
      return;
    }
    const isHttps = url.protocol === 'https:';
    if (!isHttps && url.protocol !== 'http:') {
      reject(new ScrapeError(`unsupported scheme ${url.protocol}`));
      return;
    }
    const headers: Record<string, string> = {
      Accept: opts.accept ?? SCRAPE_ACCEPT,
      'Accept-Encoding': 'gzip',
      'User-Agent': opts.userAgent ?? 'Routelens',
      'X-Prometheus-Scrape-Timeout-Seconds': String(opts.timeoutMs / 1000),
    };
    if (url.username || url.password) {
      headers.Authorization = 'Basic ' + Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
    }
    let settled = false;
    let req: http.ClientRequest | undefined;
    const timer = setTimeout(() => fail(new ScrapeError(`timed out after ${opts.timeoutMs} ms`)), remaining);
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req?.destroy();
      reject(e instanceof ScrapeError ? e : new ScrapeError(describe(e)));
    };
    const mod = isHttps ? https : http;
    try {
      req = mod.request(
      url,
      { method: 'GET', headers, agent: (isHttps ? opts.agents?.https : opts.agents?.http) ?? undefined },
      (res) => {
        const status = res.statusCode ?? 0;
        const contentType = String(res.headers['content-type'] ?? '');
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          settled = true;
          clearTimeout(timer);
          resolve({ status, contentType, body: '', bytes: 0, redirect: String(res.headers.location) });
          return;
        }
        if (status < 200 || status >= 300) {
          res.resume();
          fail(new ScrapeError(`HTTP ${status}${res.statusMessage ? ' ' + res.statusMessage : ''}`));
          return;
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > opts.maxBodyBytes) {
          res.resume();
          fail(new ScrapeError(`response of ${declared} bytes is over the ${opts.maxBodyBytes}-byte limit`));
          return;
        }
        const encoding = String(res.headers['content-encoding'] ?? '').toLowerCase();
        let stream: NodeJS.ReadableStream = res;
        if (encoding === 'gzip' || encoding === 'x-gzip') {
          const gunzip = zlib.createGunzip();
          gunzip.on('error', (e) => fail(new ScrapeError(`bad gzip body: ${e.message}`)));
          stream = res.pipe(gunzip);
        } else if (encoding && encoding !== 'identity') {
          res.resume();
          fail(new ScrapeError(`unsupported Content-Encoding ${encoding}`));
          return;
        }
        const chunks: Buffer[] = [];
        let bytes = 0;
        stream.on('data', (c: Buffer) => {
          if (settled) return;
          bytes += c.length;
          if (bytes > opts.maxBodyBytes) {
            fail(new ScrapeError(`response over the ${opts.maxBodyBytes}-byte limit`));
            return;
          }
          chunks.push(c);
        });
        stream.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status, contentType, body: Buffer.concat(chunks, bytes).toString('utf8'), bytes });
        });
        res.on('error', (e) => fail(e));
        res.on('aborted', () => fail(new ScrapeError('connection closed before the body was complete')));
      },
      );
    } catch (e) {
      fail(e as Error);
      return;
    }
    req.on('error', (e) => fail(e));
    req.end();
  });
}

function describe(e: Error): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ECONNRESET') return 'connection reset';
  if (code === 'ENOTFOUND') return 'host not found';
  if (code === 'EHOSTUNREACH') return 'host unreachable';
  return code ? `${code}: ${e.message}` : e.message;
}
