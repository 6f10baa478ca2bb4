/**
 * The details under the waterfall: the chosen span (attributes, events, exception with its stack
 * frames as links to the source) and the log records of the trace. Rebuilt when the selection
 * changes, which is rare next to the sidebar's live updates; all telemetry goes in as text.
 */
import type { AttrPair, ExceptionView, LogView, SpanView, TraceView } from '../../features/traces/protocol';
import { el } from '../shared/dom';
import { clock, fmtMs } from '../shared/format';

export interface DetailsActions {
  openSpanSource(span: SpanView, frame: number): void;
  openLogSource(logIndex: number, frame: number): void;
  selectSpan(spanId: string): void;
  openLogs(traceId: string): void;
}

function attrTable(pairs: AttrPair[], label: string): HTMLElement {
  const table = el('table', { class: 'attrs', 'aria-label': label });
  for (const [k, v] of pairs) table.append(el('tr', {}, el('th', { scope: 'row' }, k), el('td', {}, v)));
  return table;
}

function frameButton(f: { file: string; line: number; function: string }, onOpen: () => void, cls = 'frame'): HTMLButtonElement {
  const b = el('button', { type: 'button', class: cls, title: `Open ${f.file} at line ${f.line}` }, el('span', { class: 'fn' }, f.function || '<module>'), el('span', { class: 'loc' }, `${f.file}:${f.line}`));
  b.addEventListener('click', onOpen);
  return b;
}

/** Frames of libraries and the runtime, which a reader usually skips to reach the app's own. */
const LIBRARY_PATH = /(site-packages|dist-packages|[\\/]lib[\\/]python\d|<frozen |node_modules|node:internal|^internal[\\/])/;

export function isLibraryFrame(file: string): boolean {
  return LIBRARY_PATH.test(file);
}

function exceptionBlock(ex: ExceptionView, openFrame: (i: number) => void): HTMLElement {
  const box = el('div', { class: 'exception', 'data-testid': 'exception' }, el('div', { class: 'ex-head' }, el('span', { class: 'ex-type' }, ex.type), ex.message ? ': ' : '', el('span', { class: 'ex-msg' }, ex.message)));
  if (ex.frames.length) {
    const list = el('ol', { class: 'frames', 'aria-label': 'Stack, most recent call last' });
    // Runs of library frames fold into one line; the app's frames stay in view.
    let run: HTMLLIElement[] = [];
    const flush = () => {
      if (run.length === 0) return;
      if (run.length === 1) list.append(run[0]);
      else {
        const inner = el('ol', { class: 'frames lib' }, ...run);
        list.append(el('li', { class: 'lib-run' }, el('details', {}, el('summary', {}, `${run.length} library frames`), inner)));
      }
      run = [];
    };
    ex.frames.forEach((f, i) => {
      const li = el('li', { value: String(i + 1) }, frameButton(f, () => openFrame(i)));
      if (isLibraryFrame(f.file)) {
        li.classList.add('lib');
        run.push(li);
      } else {
        flush();
        list.append(li);
      }
    });
    flush();
    box.append(el('div', { class: 'muted small' }, 'Most recent call last'), list);
  }
  if (ex.stacktrace) {
    box.append(el('details', {}, el('summary', {}, 'Raw stack trace'), el('pre', { class: 'stacktrace' }, ex.stacktrace)));
  }
  return box;
}

export function spanDetails(trace: TraceView, span: SpanView | null, actions: DetailsActions): HTMLElement {
  const box = el('section', { class: 'span-details', 'aria-label': 'Span details', 'data-testid': 'span-details' });
  if (!span) {
    box.append(el('p', { class: 'muted' }, 'Choose a span to see its details.'));
    return box;
  }
  const service = trace.services[span.service] ?? '';
  box.append(
    el('h2', { class: 'span-title' }, el('span', { class: `wf-chip svc-${span.service % 8}`, 'aria-hidden': 'true' }), el('span', { 'data-testid': 'span-name' }, span.name)),
    el(
      'div',
      { class: 'facts' },
      fact('service', service),
      fact('kind', span.kind),
      fact('duration', fmtMs(span.durationMs)),
      fact('self time', fmtMs(span.selfMs)),
      fact('start', `+${fmtMs(span.offsetMs)}`),
      fact('status', span.status + (span.statusMessage ? `: ${span.statusMessage}` : '')),
      fact('span id', span.spanId),
    ),
  );
  if (span.status === 'error') box.classList.add('error');
  if (span.detail !== undefined) {
    // The statement or URL a client span sent: telemetry text, so a text node, never markup.
    box.append(el('pre', { class: 'span-detail', 'data-testid': 'span-detail' }, span.detail));
  }
  if (span.code) {
    const code = span.code;
    box.append(el('div', { class: 'code-loc' }, el('span', { class: 'muted' }, 'Code: '), frameButton(code, () => actions.openSpanSource(span, -1), 'frame inline')));
  }
  if (span.exception) box.append(el('h3', {}, 'Exception'), exceptionBlock(span.exception, (i) => actions.openSpanSource(span, i)));
  if (span.attributes.length) box.append(el('h3', {}, `Attributes (${span.attributes.length})`), attrTable(span.attributes, 'Attributes'));
  if (span.events.length) {
    const list = el('ul', { class: 'events' });
    for (const ev of span.events) {
      const li = el('li', {}, el('div', {}, el('span', { class: 'ev-name' }, ev.name), el('span', { class: 'muted' }, ` at +${fmtMs(ev.offsetMs)}`)));
      if (ev.attributes.length) li.append(attrTable(ev.attributes, `Attributes of event ${ev.name}`));
      list.append(li);
    }
    box.append(el('h3', {}, `Events (${span.events.length})`), list);
  }
  return box;
}

function fact(label: string, value: string): HTMLElement {
  return el('span', { class: 'fact' }, el('span', { class: 'muted' }, `${label} `), value);
}

export function logsList(trace: TraceView, selectedSpanId: string | null, actions: DetailsActions): HTMLElement {
  const open = el('button', { type: 'button', class: 'link', 'data-testid': 'trace-open-logs', title: 'The records of this trace in the log view' }, 'Open in the log view');
  open.addEventListener('click', () => actions.openLogs(trace.traceId));
  const box = el('section', { class: 'logs', 'aria-label': 'Log records of the trace', 'data-testid': 'trace-logs' }, el('h3', {}, `Logs of this trace (${trace.logs.length}) `, open));
  if (trace.logs.length === 0) {
    box.append(el('p', { class: 'muted' }, 'No log records carry this trace’s id.'));
    return box;
  }
  const list = el('ul', { class: 'log-list' });
  trace.logs.forEach((l: LogView, i) => {
    const li = el('li', { class: `log sev-${l.severity}${l.spanId && l.spanId === selectedSpanId ? ' of-span' : ''}` });
    const head = el('div', { class: 'log-head' }, el('span', { class: 'sev' }, l.severity.toUpperCase()), el('span', { class: 'muted' }, ` ${clock(l.timeMs)} (+${fmtMs(l.offsetMs)})`));
    if (l.spanId && trace.spans.some((s) => s.spanId === l.spanId)) {
      const spanId = l.spanId;
      const b = el('button', { type: 'button', class: 'link', title: 'Select the span that logged this' }, 'span');
      b.addEventListener('click', () => actions.selectSpan(spanId));
      head.append(' ', b);
    }
    if (l.code) {
      const code = l.code;
      head.append(' ', frameButton(code, () => actions.openLogSource(i, -1), 'frame inline'));
    }
    li.append(head, el('pre', { class: 'log-body' }, l.body));
    if (l.exception) li.append(exceptionBlock(l.exception, (f) => actions.openLogSource(i, f)));
    list.append(li);
  });
  box.append(list);
  return box;
}
