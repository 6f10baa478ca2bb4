/**
 * Static route handler detection and the matching of telemetry routes to handlers.
 * Editor-free: the extension feeds document texts in and places lenses at the lines that come out.
 */
import { djangoEntriesOf, djangoRoutesForViews } from './django';
import { detectJsRoutes } from './javascript';
import { analyzePython, pythonRoutes } from './python';
import { DetectedRoute, RouteLanguage } from './types';

export type { CodeHint, DetectedRoute, Framework, MatchHints, RouteLanguage, RouteMatch } from './types';
export { normalizeMethod, normalizeRoute } from './normalize';
export { RouteIndex, pathSegments, routeMatches } from './routeIndex';
export { JsRouteGraph, PythonRouteGraph, resolveDjangoUrlconfs } from './workspace';
export type { UrlconfFile } from './workspace';
export {
  absolutizeModule,
  detectDjangoViews,
  djangoModulePaths,
  djangoRoutesForViews,
  resolveDjangoView,
} from './django';
export type { DjangoOptions, DjangoUrlEntry, DjangoViewLocation } from './django';

/**
 * Route handlers defined in one file. For Python this covers FastAPI/Starlette and Flask, plus
 * Django URL patterns whose view is defined in the same file (views in other files are found
 * with `detectDjangoViews` + `djangoRoutesForViews`). Sorted by line.
 */
export function detectRoutes(text: string, languageId: RouteLanguage, _fileName?: string): DetectedRoute[] {
  let routes: DetectedRoute[];
  if (languageId === 'python') {
    const mod = analyzePython(text);
    routes = pythonRoutes(mod);
    if (text.includes('urlpatterns')) {
      const local = djangoEntriesOf(mod).filter((e) => e.viewModule === undefined && !e.viewRef.includes('.'));
      if (local.length > 0) routes = routes.concat(djangoRoutesForViews(local, mod));
    }
  } else {
    routes = detectJsRoutes(text);
  }
  return routes.map((r, i) => ({ r, i })).sort((a, b) => a.r.line - b.r.line || a.i - b.i).map((x) => x.r);
}
