import type { HistogramValue, MetricKind, MetricPoint, Resource, SummaryValue } from '../model';
import { attributesKey, CumulativeToDelta } from './cumulative';
import { checkExp, expToExplicit, type ExpHistogram } from './exphist';
import {
  addScope,
  attributes,
  dbl,
  int,
  list,
  nanosToMs,
  obj,
  optDbl,
  OtlpItemError,
  OtlpMalformedError,
  reasonOf,
  Rejections,
  resourceOf,
  scopeOf,
  str,
  u64,
  i64,
  type Mapped,
  type Obj,
  type Scope,
} from './values';

const DELTA = 1;
const CUMULATIVE = 2;
const TEMPORALITY_NAMES: Record<string, number> = {
  AGGREGATION_TEMPORALITY_UNSPECIFIED: 0,
  AGGREGATION_TEMPORALITY_DELTA: DELTA,
  AGGREGATION_TEMPORALITY_CUMULATIVE: CUMULATIVE,
};
/** DataPointFlags.NO_RECORDED_VALUE: the series went stale; there is nothing to record. */
const NO_RECORDED_VALUE = 1;

/**
 * A mapped data point before cumulative-to-delta conversion. Conversion waits until the whole
 * request has been mapped, so a request refused as malformed leaves the converter's state untouched.
 */
export interface PendingPoint {
  point: MetricPoint;
  /** Set for cumulative points: the series identity (resource, scope, name, kind, attributes). */
  series?: string;
  exp?: ExpHistogram;
}

type DataKind = 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram' | 'summary';
const DATA_KINDS: DataKind[] = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'];

/** An ExportMetricsServiceRequest (decoded protobuf or parsed OTLP/JSON) to pending points. */
export function mapMetrics(request: unknown, json: boolean): Mapped<PendingPoint> {
  const root = obj(request, 'request', OtlpMalformedError);
  if (!root) throw new OtlpMalformedError('request is not an object');
  const items: PendingPoint[] = [];
  const rejected = new Rejections();
  for (const rmV of list(root.resourceMetrics, 'resourceMetrics', OtlpMalformedError)) {
    const rm = obj(rmV, 'resourceMetrics[]', OtlpMalformedError);
    if (!rm) continue;
    const resource = resourceOf(rm.resource, json);
    let resourceKey: string | undefined;
    const seriesPrefix = () => (resourceKey ??= attributesKey(resource.attributes));
    for (const smV of list(rm.scopeMetrics, 'scopeMetrics', OtlpMalformedError)) {
      const sm = obj(smV, 'scopeMetrics[]', OtlpMalformedError);
      if (!sm) continue;
      const scope = scopeOf(sm.scope);
      for (const mV of list(sm.metrics, 'metrics', OtlpMalformedError)) {
        const m = obj(mV, 'metric', OtlpMalformedError);
        if (m) mapMetric(m, json, resource, scope, seriesPrefix, items, rejected);
      }
    }
  }
  return { items, rejected };
}

function dataKind(m: Obj, json: boolean): DataKind | undefined {
  if (!json) return m.data as DataKind | undefined;
  for (const k of DATA_KINDS) if (m[k] !== undefined && m[k] !== null) return k;
  return undefined;
}

function mapMetric(
  m: Obj,
  json: boolean,
  resource: Resource,
  scope: Scope,
  seriesPrefix: () => string,
  out: PendingPoint[],
  rejected: Rejections,
): void {
  const kind = dataKind(m, json);
  if (!kind) return;
  const data = obj(m[kind], kind, OtlpMalformedError) ?? {};
  const points = list(data.dataPoints, 'dataPoints', OtlpMalformedError);
  if (points.length === 0) return;
  let name: string;
  let unit: string;
  let temporality = 0;
  let monotonic = false;
  try {
    name = str(m.name, 'metric name');
    unit = str(m.unit, 'metric unit');
    if (!name) throw new OtlpItemError('metric without a name');
    if (kind === 'sum' || kind === 'histogram' || kind === 'exponentialHistogram') {
      temporality = int(data.aggregationTemporality, 'aggregation temporality', TEMPORALITY_NAMES);
      if (temporality !== DELTA && temporality !== CUMULATIVE) throw new OtlpItemError('unspecified aggregation temporality');
    }
    if (kind === 'sum') {
      if (data.isMonotonic !== undefined && data.isMonotonic !== null && typeof data.isMonotonic !== 'boolean') {
        throw new OtlpItemError('isMonotonic is not a boolean');
      }
      monotonic = data.isMonotonic === true;
    }
  } catch (e) {
    const reason = reasonOf(e);
    for (let i = 0; i < points.length; i++) rejected.add(reason);
    return;
  }
  for (let i = 0; i < points.length; i++) {
    try {
      const p = obj(points[i], 'data point');
      if (!p) throw new OtlpItemError('data point is null');
      if (int(p.flags, 'flags') & NO_RECORDED_VALUE) continue;
      const pending = mapPoint(p, kind, json, name, unit, temporality, monotonic, resource, scope);
      if (pending.series !== undefined) pending.series = `${seriesPrefix()}\u0000${pending.series}`;
      out.push(pending);
    } catch (e) {
      rejected.add(reasonOf(e));
    }
  }
}

function finite(n: number, what: string): number {
  if (!Number.isFinite(n)) throw new OtlpItemError(`non-finite ${what}`);
  return n;
}

function mapPoint(
  p: Obj,
  kind: DataKind,
  json: boolean,
  name: string,
  unit: string,
  temporality: number,
  monotonic: boolean,
  resource: Resource,
  scope: Scope,
): PendingPoint {
  const timeMs = nanosToMs(p.timeUnixNano, 'time');
  if (timeMs <= 0) throw new OtlpItemError('missing time');
  const startMs = nanosToMs(p.startTimeUnixNano, 'start time');
  if (startMs > timeMs) throw new OtlpItemError('start after time');
  const attrs = addScope(attributes(p.attributes, json), scope);
  const point: MetricPoint = { name, kind: kind as MetricKind, timeMs, attributes: attrs, resource };
  if (unit) point.unit = unit;
  if (startMs > 0) point.startMs = startMs;
  const cumulative = temporality === CUMULATIVE;
  const pending: PendingPoint = { point };

  switch (kind) {
    case 'gauge':
      point.value = numberValue(p, json);
      delete point.startMs;
      break;
    case 'sum': {
      const value = numberValue(p, json);
      point.value = value;
      if (!monotonic && cumulative) {
        // An up-down counter's cumulative value is a level (queue depth, connections); its deltas
        // would only be useful summed back up, so it is kept as the gauge it behaves as.
        point.kind = 'gauge';
        delete point.startMs;
        break;
      }
      point.monotonic = monotonic;
      if (monotonic && value < 0) throw new OtlpItemError('negative value on a monotonic sum');
      break;
    }
    case 'histogram':
      point.histogram = explicitHistogram(p);
      break;
    case 'exponentialHistogram': {
      const exp = exponentialHistogram(p);
      point.kind = 'histogram';
      point.histogram = expToExplicit(exp);
      if (cumulative) pending.exp = exp;
      break;
    }
    case 'summary':
      point.summary = summary(p);
      break;
  }
  if (cumulative && point.kind !== 'gauge') pending.series = seriesKey(point);
  return pending;
}

function seriesKey(point: MetricPoint): string {
  return `${point.name}\u0000${point.kind}\u0000${attributesKey(point.attributes)}`;
}

function numberValue(p: Obj, json: boolean): number {
  let which: unknown;
  if (json) which = p.asDouble !== undefined ? 'asDouble' : p.asInt !== undefined ? 'asInt' : undefined;
  else which = p.value;
  if (which === 'asDouble') return finite(dbl(p.asDouble, 'asDouble'), 'value');
  if (which === 'asInt') return i64(p.asInt, 'asInt');
  throw new OtlpItemError('data point without a value');
}

function countList(v: unknown, what: string): number[] {
  const l = list(v, what);
  const out = new Array<number>(l.length);
  for (let i = 0; i < l.length; i++) out[i] = u64(l[i], what);
  return out;
}

function explicitHistogram(p: Obj): HistogramValue {
  const count = u64(p.count, 'count');
  let counts = countList(p.bucketCounts, 'bucket counts');
  const boundsIn = list(p.explicitBounds, 'explicit bounds');
  const bounds = new Array<number>(boundsIn.length);
  for (let i = 0; i < boundsIn.length; i++) {
    bounds[i] = finite(dbl(boundsIn[i], 'explicit bound'), 'bucket bound');
    if (i > 0 && bounds[i] <= bounds[i - 1]) throw new OtlpItemError('bucket bounds not increasing');
  }
  if (counts.length === 0 && bounds.length === 0) {
    // Count and sum only: every observation sits in the one (+Inf) bucket.
    counts = [count];
  } else if (counts.length !== bounds.length + 1) {
    throw new OtlpItemError('bucket counts do not match bounds');
  }
  let total = 0;
  for (const c of counts) total += c;
  if (total !== count) throw new OtlpItemError('bucket counts do not add up to count');
  return { bounds, counts, sum: optionalSum(p), count };
}

/**
 * OTLP lets senders omit the sum (when negative values were recorded). NaN stands for "unknown"
 * then, so nothing downstream mistakes it for zero; a sum that is present must be finite.
 */
function optionalSum(p: Obj): number {
  const sum = optDbl(p.sum, 'sum');
  return sum === undefined ? NaN : finite(sum, 'sum');
}

function exponentialHistogram(p: Obj): ExpHistogram {
  const pos = obj(p.positive, 'positive buckets');
  const neg = obj(p.negative, 'negative buckets');
  const negCounts = countList(neg?.bucketCounts, 'negative bucket counts');
  let low = u64(p.zeroCount, 'zero count');
  for (const c of negCounts) low += c;
  const zeroThreshold = finite(dbl(p.zeroThreshold, 'zero threshold'), 'zero threshold');
  const exp: ExpHistogram = {
    scale: int(p.scale, 'scale'),
    offset: int(pos?.offset, 'positive offset'),
    counts: countList(pos?.bucketCounts, 'positive bucket counts'),
    low,
    zeroThreshold,
    count: u64(p.count, 'count'),
    sum: optionalSum(p),
  };
  checkExp(exp);
  return exp;
}

function summary(p: Obj): SummaryValue {
  const qs = list(p.quantileValues, 'quantile values');
  const quantiles: { quantile: number; value: number }[] = [];
  for (const qV of qs) {
    const q = obj(qV, 'quantile value') ?? {};
    const quantile = dbl(q.quantile, 'quantile');
    if (!(quantile >= 0 && quantile <= 1)) throw new OtlpItemError('quantile outside [0, 1]');
    const value = dbl(q.value, 'quantile value');
    // A summary with no observations in its window reports NaN quantiles; those say "no data".
    if (Number.isFinite(value)) quantiles.push({ quantile, value });
  }
  return { quantiles, sum: finite(dbl(p.sum, 'sum'), 'sum'), count: u64(p.count, 'count') };
}

/**
 * Pending points to what the sink receives: delta and gauge points as they are, cumulative ones
 * through the converter (which may hold a point back as a baseline).
 */
export function finishMetrics(pending: PendingPoint[], converter: CumulativeToDelta): MetricPoint[] {
  const out: MetricPoint[] = [];
  for (const p of pending) {
    if (p.series === undefined) {
      out.push(p.point);
      continue;
    }
    const d = converter.convert(p.series, p.point, p.exp);
    if (d) out.push(d);
  }
  return out;
}
