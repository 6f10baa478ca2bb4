export { callOf, normalizeStatement, pathTemplate, type CallInfo, type CallKind } from './calls';
export { criticalPath, flatten, timedTree, type CriticalPath, type PathSegment, type TimedSpan } from './criticalPath';
export { analyseTraceView, InsightsEngine, wasPaused, type Finding, type FindingKind, type MapEdge, type RouteBreakdown, type ServiceMap, type TraceAnalysisView } from './insights';
export { analyseRequest, N_PLUS_ONE_MIN, type BreakdownPart, type Destination, type DestinationKind, type RequestAnalysis } from './requestAnalysis';
