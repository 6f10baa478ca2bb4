/** A minimal logger the core writes to; the extension backs it with its LogOutputChannel, the CLI with stderr. */
export interface Logger {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const silentLogger: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** A logger that prefixes every line with a component name, e.g. `[otlp]`. */
export function withPrefix(log: Logger, prefix: string): Logger {
  const p = `[${prefix}] `;
  return {
    trace: (m) => log.trace(p + m),
    debug: (m) => log.debug(p + m),
    info: (m) => log.info(p + m),
    warn: (m) => log.warn(p + m),
    error: (m) => log.error(p + m),
  };
}
