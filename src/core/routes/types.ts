/** Shapes shared by the route detectors, the normaliser and the index. */

export type Framework = 'fastapi' | 'flask' | 'django' | 'express' | 'fastify' | 'nestjs';

export type RouteLanguage = 'python' | 'javascript' | 'typescript';

export interface DetectedRoute {
  /** Upper-case HTTP method, or `*` when the handler answers any method (or the methods are not static). */
  method: string;
  /** The full template as the framework writes it, with every prefix resolvable in the file applied. */
  route: string;
  /** `normalizeRoute(route)`: the form telemetry routes are compared in. */
  normalized: string;
  framework: Framework;
  /** Function or method name; `<anonymous>` for inline JavaScript handlers, `<lambda>` for Python lambdas. */
  handlerName: string;
  /** 0-based line of the handler's name (the `def`, function or method), or of the registration call when the handler is inline or lives in another file. */
  line: number;
  /** 0-based line of the first decorator of the handler, or of the registration call. */
  decoratorLine: number;
  /** 0-based last line of the handler's body, when known. */
  endLine?: number;
  /** Enclosing class, for methods of class-based views and controllers. */
  className?: string;
  /**
   * Set when the route may be mounted under a prefix that is not visible in this file (a router,
   * blueprint, plugin or controller registered elsewhere): the index then also matches telemetry
   * routes that end with this one.
   */
  partial?: boolean;
}

/** Where the telemetry says the handler's code is (`code.filepath`, `code.lineno`, `code.function`). */
export interface CodeHint {
  file?: string;
  /** 1-based, as OpenTelemetry's `code.lineno` and Python's `co_firstlineno` are. */
  line?: number;
  function?: string;
}

export interface RouteMatch {
  uri: string;
  /** 0-based line where the handler's lens goes. */
  line: number;
  /** The matched handler's route template. */
  route: string;
  handler: DetectedRoute;
  by: 'code' | 'template' | 'suffix';
}

/** What the telemetry says of its sender, to tell apart handlers that fit a route equally well. */
export interface MatchHints {
  /** `service.name`: a handler under a folder of that name is preferred. */
  service?: string;
  /** `telemetry.sdk.language`: a handler in a file of that language is preferred. */
  language?: string;
}
