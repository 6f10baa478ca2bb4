import * as fs from 'node:fs';
import type { Logger } from '../../core/log';

/**
 * Lines of source files, read once per file and kept until the file is saved (the caller says so)
 * or the cache is cleared: Problems entries need the text of the line they underline, and many
 * entries point into the same few files.
 */
export class SourceLines {
  private files = new Map<string, string[]>();

  constructor(
    private readonly log: Logger,
    private readonly prefix: string,
  ) {}

  /** Line `line` (0-based) of `file`, or undefined when the file cannot be read. */
  line(file: string, line: number): string | undefined {
    let lines = this.files.get(file);
    if (!lines) {
      try {
        lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
      } catch (e) {
        this.log.debug(`[${this.prefix}] cannot read ${file}: ${(e as Error).message}`);
        return undefined;
      }
      this.files.set(file, lines);
    }
    return lines[line];
  }

  forget(file: string): void {
    this.files.delete(file);
  }

  clear(): void {
    this.files = new Map();
  }
}
