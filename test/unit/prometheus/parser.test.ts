import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseExposition, parseFloatToken, type MetricFamily } from '../../../src/core/prometheus/parser';

const FIXTURES = join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'prometheus');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

function fam(families: MetricFamily[], name: string): MetricFamily {
  const f = families.find((x) => x.name === name);
  assert.ok(f, `family ${name} in ${families.map((x) => x.name).join(', ')}`);
  return f;
}

describe('Prometheus parser: the text format specification example', () => {
  const r = parseExposition(fixture('text-format-example.txt'));

  it('reads it without errors as the text format', () => {
    assert.deepEqual(r.errors, []);
    assert.equal(r.format, 'text');
    assert.equal(r.sampleCount, 2 + 1 + 1 + 1 + 8 + 7);
  });

  it('reads counters with HELP, labels and millisecond timestamps', () => {
    const f = fam(r.families, 'http_requests_total');
    assert.equal(f.type, 'counter');
    assert.equal(f.help, 'The total number of HTTP requests.');
    assert.equal(f.series.length, 2);
    assert.deepEqual(f.series[0].labels, { method: 'post', code: '200' });
    assert.equal(f.series[0].value, 1027);
    assert.equal(f.series[0].timestampMs, 1395066363000);
    assert.equal(f.series[1].value, 3);
  });

  it('unescapes label values', () => {
    const f = fam(r.families, 'msdos_file_access_time_seconds');
    assert.equal(f.type, 'untyped');
    assert.deepEqual(f.series[0].labels, { path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' });
    assert.equal(f.series[0].value, 1.458255915e9);
  });

  it('reads +Inf values and negative timestamps', () => {
    const f = fam(r.families, 'something_weird');
    assert.equal(f.series[0].value, Infinity);
    assert.equal(f.series[0].timestampMs, -3982045);
    assert.equal(fam(r.families, 'metric_without_timestamp_and_labels').series[0].value, 12.47);
  });

  it('groups the histogram into one series with sorted cumulative buckets', () => {
    const f = fam(r.families, 'http_request_duration_seconds');
    assert.equal(f.type, 'histogram');
    assert.equal(f.series.length, 1);
    const s = f.series[0];
    assert.deepEqual(
      s.buckets!.map((b) => [b.le, b.count]),
      [
        [0.05, 24054],
        [0.1, 33444],
        [0.2, 100392],
        [0.5, 129389],
        [1, 133988],
        [Infinity, 144320],
      ],
    );
    assert.equal(s.sum, 53423);
    assert.equal(s.count, 144320);
    assert.equal(f.samples.length, 8);
    assert.equal(f.samples[0].labels.le, '0.05');
  });

  it('groups the summary with its quantiles', () => {
    const s = fam(r.families, 'rpc_duration_seconds').series[0];
    assert.deepEqual(s.quantiles, [
      { quantile: 0.01, value: 3102 },
      { quantile: 0.05, value: 3272 },
      { quantile: 0.5, value: 4773 },
      { quantile: 0.9, value: 9001 },
      { quantile: 0.99, value: 76656 },
    ]);
    assert.equal(s.sum, 1.7560473e7);
    assert.equal(s.count, 2693);
  });
});

describe('Prometheus parser: OpenMetrics specification examples', () => {
  const r = parseExposition(fixture('openmetrics-example.txt'));

  it('detects OpenMetrics by # EOF and reads it without errors', () => {
    assert.deepEqual(r.errors, []);
    assert.equal(r.format, 'openmetrics');
    assert.equal(r.eof, true);
  });

  it('reads UNIT, HELP after TYPE and _created of summaries (in seconds)', () => {
    const f = fam(r.families, 'acme_http_router_request_seconds');
    assert.equal(f.type, 'summary');
    assert.equal(f.unit, 'seconds');
    assert.equal(f.help, "Latency though all of ACME's HTTP request router.");
    assert.equal(f.series.length, 2);
    assert.deepEqual(f.series[1].labels, { path: '/api/v2', method: 'POST' });
    assert.equal(f.series[1].count, 34);
    assert.equal(f.series[1].createdMs, 1605281325000);
  });

  it('names counters without _total and reads the _total sample', () => {
    const f = fam(r.families, 'process_cpu_seconds');
    assert.equal(f.type, 'counter');
    assert.equal(f.series[0].sampleName, 'process_cpu_seconds_total');
    assert.equal(f.series[0].value, 4.20072246e6);
    const q = fam(r.families, 'quux').series[0];
    // OpenMetrics timestamps are seconds.
    assert.equal(q.timestampMs, 1520879607789);
    assert.deepEqual(q.exemplar, { labels: { trace_id: 'KOO5S4vxi0o' }, value: 0.67, timestampMs: 1520879602890 });
  });

  it('splits a labelled histogram into one series per label set (le excluded)', () => {
    const f = fam(r.families, 'acme_http_request_seconds');
    assert.equal(f.series.length, 2);
    const [get, post] = f.series;
    assert.deepEqual(get.labels, { path: '/api/v1', method: 'GET' });
    assert.equal(get.buckets!.length, 6);
    assert.equal(get.count, 30);
    assert.equal(get.createdMs, 1605281325000);
    assert.deepEqual(post.labels, { path: '/api/v2', method: 'POST' });
    assert.deepEqual(post.buckets!.map((b) => b.count), [0, 1, 1, 2, 3, 4]);
  });

  it('keeps exemplars on their buckets', () => {
    const s = fam(r.families, 'foo').series[0];
    assert.deepEqual(s.buckets![1].exemplar, { labels: {}, value: 0.054 });
    assert.deepEqual(s.buckets![2].exemplar, { labels: { trace_id: 'KOO5S4vxi0o' }, value: 0.67 });
    assert.deepEqual(s.buckets![3].exemplar, { labels: { trace_id: 'oHg5SJYRHA0' }, value: 9.8, timestampMs: 1520879607789 });
    assert.equal(s.createdMs, 1520430000123);
  });

  it('reads gauge histograms, statesets, info and unknown', () => {
    const g = fam(r.families, 'bar');
    assert.equal(g.type, 'gaugehistogram');
    assert.equal(g.series[0].count, 42);
    assert.equal(g.series[0].sum, 3289.3);
    const st = fam(r.families, 'baz');
    assert.equal(st.type, 'stateset');
    assert.equal(st.series.length, 3);
    const info = fam(r.families, 'qux');
    assert.equal(info.series[0].sampleName, 'qux_info');
    assert.equal(info.series[0].labels.version, '8.2.7');
    assert.equal(fam(r.families, 'corge').type, 'unknown');
  });
});

describe('Prometheus parser: details', () => {
  it('reports a missing # EOF in OpenMetrics and content after it', () => {
    const cut = parseExposition('# TYPE a gauge\na 1\n', { format: 'openmetrics' });
    assert.equal(cut.eof, false);
    assert.match(cut.errors[0].message, /EOF/);
    assert.equal(cut.sampleCount, 1);
    const after = parseExposition('a 1\n# EOF\nb 2\n', { format: 'openmetrics' });
    assert.equal(after.format, 'openmetrics');
    assert.deepEqual(after.errors, [{ line: 3, message: 'content after # EOF' }]);
    assert.equal(after.sampleCount, 1);
  });

  it('reports malformed lines with their line numbers and keeps the rest', () => {
    const text = [
      '# TYPE ok gauge',
      'ok 1',
      'bad{a="1" 2', // unterminated label set
      'bad2 notanumber',
      '3starts_with_digit 1',
      'ok2{a="x"} 5 abc', // bad timestamp
      'ok3{a="unterminated} 1',
      'ok4 7',
      'ok5{a=1} 1', // unquoted value
      'ok6{a="1",a="2"} 1', // label twice
    ].join('\n');
    const r = parseExposition(text);
    assert.deepEqual(
      r.errors.map((e) => e.line),
      [3, 4, 5, 6, 7, 9, 10],
    );
    assert.equal(r.sampleCount, 2);
    assert.equal(fam(r.families, 'ok4').series[0].value, 7);
  });

  it('ties the text format _created gauges of prometheus_client to their series and drops them', () => {
    const text = [
      '# HELP reqs_total Requests',
      '# TYPE reqs_total counter',
      'reqs_total{path="/a"} 3.0',
      '# HELP reqs_created Requests',
      '# TYPE reqs_created gauge',
      'reqs_created{path="/a"} 1.7e+09',
      '# TYPE lat histogram',
      'lat_bucket{le="1.0",path="/a"} 1.0',
      'lat_bucket{le="+Inf",path="/a"} 2.0',
      'lat_count{path="/a"} 2.0',
      'lat_sum{path="/a"} 3.5',
      '# TYPE lat_created gauge',
      'lat_created{path="/a"} 1.6e+09',
      '# TYPE lonely_created gauge',
      'lonely_created 5',
      '',
    ].join('\n');
    const r = parseExposition(text);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.families.map((f) => f.name),
      ['reqs_total', 'lat', 'lonely_created'],
    );
    assert.equal(fam(r.families, 'reqs_total').series[0].createdMs, 1.7e12);
    assert.equal(fam(r.families, 'lat').series[0].createdMs, 1.6e12);
  });

  it('groups buckets by labels whatever the label order and position of le', () => {
    const text = [
      '# TYPE h histogram',
      'h_bucket{a="1",le="0.1",b="x"} 1',
      'h_bucket{b="y",a="1",le="0.1"} 4',
      'h_bucket{le="+Inf",b="x",a="1"} 2',
      'h_bucket{a="1",b="y",le="+Inf"} 5',
      'h_count{b="x",a="1"} 2',
      'h_sum{a="1",b="y"} 9',
    ].join('\n');
    const r = parseExposition(text);
    assert.deepEqual(r.errors, []);
    const f = fam(r.families, 'h');
    assert.equal(f.series.length, 2);
    assert.deepEqual(f.series[0].labels, { a: '1', b: 'x' });
    assert.deepEqual(f.series[0].buckets!.map((b) => b.count), [1, 2]);
    assert.equal(f.series[0].count, 2);
    assert.deepEqual(f.series[1].buckets!.map((b) => b.count), [4, 5]);
    assert.equal(f.series[1].sum, 9);
  });

  it('sorts buckets given out of order and flags a series without +Inf', () => {
    const r = parseExposition('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="0.5"} 1\nh_count 2\n');
    assert.deepEqual(r.families[0].series[0].buckets!.map((b) => b.le), [0.5, 1]);
    assert.match(r.errors[0].message, /\+Inf/);
  });

  it('reads NaN, +Inf, -Inf values and le values in their written forms', () => {
    const r = parseExposition('a NaN\nb +Inf\nc -Inf\nd 1e-3\ne -0.5\nf Inf\n# TYPE h histogram\nh_bucket{le="1.0e-2"} 1\nh_bucket{le="+Inf"} 1\n');
    const v = (n: string) => fam(r.families, n).series[0].value!;
    assert.ok(Number.isNaN(v('a')));
    assert.equal(v('b'), Infinity);
    assert.equal(v('c'), -Infinity);
    assert.equal(v('d'), 0.001);
    assert.equal(v('e'), -0.5);
    assert.equal(v('f'), Infinity);
    assert.equal(fam(r.families, 'h').series[0].buckets![0].le, 0.01);
  });

  it('accepts trailing commas, empty braces, tabs, CRLF and blank lines', () => {
    const r = parseExposition('a{x="1",} 1\r\nb{} 2\n\n c_not_a_sample 1\nd\t{y="2"}\t3\t1000\n');
    // A leading blank is not the start of a metric name.
    assert.deepEqual(r.errors.map((e) => e.line), [4]);
    assert.equal(fam(r.families, 'a').series[0].labels.x, '1');
    assert.equal(fam(r.families, 'b').series[0].value, 2);
    assert.equal(fam(r.families, 'd').series[0].timestampMs, 1000);
  });

  it('unescapes HELP as each format defines it', () => {
    const text = parseExposition('# HELP a Says "hi"\\nback\\\\slash\\t\na 1\n');
    assert.equal(text.families[0].help, 'Says "hi"\nback\\slash\\t');
    const om = parseExposition('# HELP a Says \\"hi\\"\n# TYPE a gauge\na 1\n# EOF\n');
    assert.equal(om.families[0].help, 'Says "hi"');
  });

  it('reads quoted UTF-8 metric and label names', () => {
    const r = parseExposition('# TYPE "http.server.active" gauge\n{"http.server.active","http.route"="/a"} 3\n');
    assert.deepEqual(r.errors, []);
    const f = fam(r.families, 'http.server.active');
    assert.equal(f.type, 'gauge');
    assert.deepEqual(f.series[0].labels, { 'http.route': '/a' });
  });

  it('reports duplicates, a second TYPE and a TYPE after samples', () => {
    const r = parseExposition('# TYPE a gauge\n# TYPE a counter\na 1\na 2\n# TYPE b gauge\nb 1\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="1.0"} 1\nlate 1\n# TYPE late gauge\n');
    assert.deepEqual(
      r.errors.map((e) => [e.line, e.message.split(' ').slice(0, 2).join(' ')]),
      [
        [2, 'second #'],
        [4, 'duplicate sample'],
        [9, 'duplicate sample'],
        [11, '# TYPE'],
        [8, 'h: histogram'],
      ],
    );
  });

  it('rejects a sample that does not fit its family', () => {
    const r = parseExposition('# TYPE h histogram\nh 1\n');
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].line, 2);
  });

  it('keeps only the first errors in detail but counts all', () => {
    const r = parseExposition('x\n'.repeat(500), { maxErrors: 10 });
    assert.equal(r.errors.length, 10);
    assert.equal(r.errorCount, 500);
  });

  it('can skip the flat sample lists', () => {
    const r = parseExposition(fixture('text-format-example.txt'), { keepSamples: false });
    assert.equal(r.sampleCount, 20);
    for (const f of r.families) assert.equal(f.samples.length, 0);
    assert.equal(fam(r.families, 'http_request_duration_seconds').series[0].buckets!.length, 6);
  });

  it('parses float tokens like Go, not like Number()', () => {
    assert.equal(parseFloatToken('1.5e3'), 1500);
    assert.equal(parseFloatToken('.5'), 0.5);
    assert.equal(parseFloatToken(''), undefined);
    assert.equal(parseFloatToken('0x10'), undefined);
    assert.equal(parseFloatToken('0b1'), undefined);
    assert.equal(parseFloatToken('1_000'), undefined);
    assert.equal(parseFloatToken('-inf'), -Infinity);
    assert.ok(Number.isNaN(parseFloatToken('nan')!));
    assert.equal(parseFloatToken('0e5'), 0);
  });
});
