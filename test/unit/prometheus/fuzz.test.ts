import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExpositionTracker } from '../../../src/core/prometheus/convert';
import { parseExposition, type ParseResult } from '../../../src/core/prometheus/parser';
import { RouteDeriver } from '../../../src/core/prometheus/routes';
import { resource } from '../helpers/telemetry';
import { InstrumentatorApp } from './helpers';

const FIXTURES = join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'prometheus');

/** Park–Miller: small, seeded, reproducible. */
function rng(seed: number): () => number {
  let s = seed % 2147483647 || 1;
  return () => (s = (s * 48271) % 2147483647) / 2147483647;
}

const ALPHABET = ['a', '_', '{', '}', '"', '\\', '=', ',', ' ', '\t', '\n', '\r', '#', '0', '1', '.', 'e', '-', '+', 'I', 'n', 'f', 'N', 'le', 'quantile', '# EOF', '# TYPE', '# HELP', 'histogram', '\u00e9', '\u{1F600}', '\u0000', 'x_bucket', '_total', '_created'];

function mutate(text: string, r: () => number): string {
  const ops = 1 + Math.floor(r() * 6);
  let t = text;
  for (let k = 0; k < ops; k++) {
    const at = Math.floor(r() * (t.length + 1));
    switch (Math.floor(r() * 6)) {
      case 0: // delete a span
        t = t.slice(0, at) + t.slice(at + 1 + Math.floor(r() * 20));
        break;
      case 1: // insert a token
        t = t.slice(0, at) + ALPHABET[Math.floor(r() * ALPHABET.length)] + t.slice(at);
        break;
      case 2: // duplicate a span
        t = t.slice(0, at) + t.slice(at, at + Math.floor(r() * 200)) + t.slice(at);
        break;
      case 3: // truncate
        t = t.slice(0, at);
        break;
      case 4: // swap two lines
      {
        const lines = t.split('\n');
        const i = Math.floor(r() * lines.length);
        const j = Math.floor(r() * lines.length);
        [lines[i], lines[j]] = [lines[j], lines[i]];
        t = lines.join('\n');
        break;
      }
      default: // flip a character
        if (t.length) t = t.slice(0, at) + String.fromCharCode(Math.floor(r() * 128)) + t.slice(at + 1);
    }
  }
  return t;
}

function randomText(r: () => number): string {
  let t = '';
  const n = Math.floor(r() * 60);
  for (let i = 0; i < n; i++) t += ALPHABET[Math.floor(r() * ALPHABET.length)];
  return t;
}

function check(text: string, r: ParseResult): void {
  assert.ok(r.errors.length <= r.errorCount);
  assert.ok(r.sampleCount >= 0 && r.seriesCount >= 0);
  const lines = text.split('\n').length;
  for (const e of r.errors) assert.ok(e.line >= 1 && e.line <= lines + 1, `error line ${e.line} of ${lines}`);
  for (const f of r.families) {
    for (const s of f.series) {
      if (s.buckets) for (let i = 1; i < s.buckets.length; i++) assert.ok(s.buckets[i].le >= s.buckets[i - 1].le);
    }
  }
}

describe('Prometheus parser fuzzing', () => {
  const app = new InstrumentatorApp();
  app.observe('GET', '/items/{item_id}', 0.05, '2xx', 3);
  app.observe('POST', '/items', 0.7, '5xx', 1);
  const seeds = [
    readFileSync(join(FIXTURES, 'text-format-example.txt'), 'utf8'),
    readFileSync(join(FIXTURES, 'openmetrics-example.txt'), 'utf8'),
    app.exposition(),
  ];

  it('never throws on mutated valid expositions, and the pipeline after it neither (5000 cases)', function () {
    this.timeout(60_000);
    const r = rng(20240607);
    const started = Date.now();
    const tracker = new ExpositionTracker();
    const deriver = new RouteDeriver();
    let withErrors = 0;
    for (let i = 0; i < 5000; i++) {
      const text = mutate(seeds[i % seeds.length], r);
      for (const format of ['auto', 'text', 'openmetrics'] as const) {
        const res = parseExposition(text, { format });
        check(text, res);
        if (res.errorCount) withErrors++;
        if (format === 'auto') {
          const { points } = tracker.convert(res, { resource: resource('fuzz'), scrapeMs: 1_700_000_000_000 + i, hasBaseline: i > 0, watchStartMs: 0 });
          deriver.derive(points);
        }
      }
    }
    assert.ok(withErrors > 1000, `mutations should produce errors (${withErrors})`);
    assert.ok(Date.now() - started < 30_000);
  });

  it('never throws on random token soup (5000 cases)', () => {
    const r = rng(7);
    for (let i = 0; i < 5000; i++) {
      const text = randomText(r);
      check(text, parseExposition(text));
    }
  });

  it('reads random valid expositions exactly as generated (2000 cases)', () => {
    const r = rng(99);
    // Names of equal length and shared prefixes exercise the paths that reuse the previous line.
    const names = ['aaa', 'bbb', 'aab', 'req_total', 'req_count', 'x'];
    const labelNames = ['a', 'b', 'le2', 'path'];
    const values = ['', 'v', '/items/{id}', 'with \\"quote\\"', 'back\\\\slash', 'new\\nline', 'é ü 😀'];
    const unescape = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    for (let i = 0; i < 2000; i++) {
      const lines: string[] = [];
      const expected: { name: string; labels: Record<string, string>; value: number }[] = [];
      const seen = new Set<string>();
      const n = 1 + Math.floor(r() * 30);
      for (let k = 0; k < n; k++) {
        const name = names[Math.floor(r() * names.length)];
        const labels: Record<string, string> = {};
        const parts: string[] = [];
        for (const ln of labelNames) {
          if (r() < 0.5) continue;
          const raw = values[Math.floor(r() * values.length)];
          labels[ln] = unescape(raw);
          parts.push(`${ln}="${raw}"`);
        }
        const id = name + JSON.stringify(Object.entries(labels).sort());
        if (seen.has(id)) continue;
        seen.add(id);
        const value = Math.round((r() - 0.5) * 1e6) / 100;
        lines.push(`${name}${parts.length || r() < 0.3 ? `{${parts.join(',')}${parts.length && r() < 0.2 ? ',' : ''}}` : ''} ${value}`);
        expected.push({ name, labels, value });
      }
      const res = parseExposition(lines.join('\n') + '\n');
      assert.deepEqual(res.errors, [], lines.join('\n'));
      const got = res.families.flatMap((f) => f.samples).sort((a, b) => a.line - b.line);
      assert.deepEqual(
        got.map((x) => ({ name: x.name, labels: x.labels, value: x.value })),
        expected,
        lines.join('\n'),
      );
    }
  });

  it('stays linear on pathological input', () => {
    const cases = [
      'a{' + 'b="c",'.repeat(50_000) + '} 1\n',
      'a{b="' + '\\\\'.repeat(100_000) + '"} 1\n',
      '#'.repeat(200_000),
      '\n'.repeat(200_000),
      'x'.repeat(500_000) + ' 1',
      '# TYPE h histogram\n' + Array.from({ length: 20_000 }, (_, i) => `h_bucket{le="${20_000 - i}"} ${i}`).join('\n'),
      '{'.repeat(100_000),
      '"'.repeat(100_000),
    ];
    for (const text of cases) {
      const t0 = Date.now();
      const res = parseExposition(text);
      check(text, res);
      assert.ok(Date.now() - t0 < 2000, `slow on ${JSON.stringify(text.slice(0, 30))}`);
    }
  });

  it('survives inputs that are not strings', () => {
    for (const v of [undefined, null, 42, {}, []]) {
      const res = parseExposition(v as unknown as string);
      assert.ok(res.errorCount >= 0);
    }
  });
});
