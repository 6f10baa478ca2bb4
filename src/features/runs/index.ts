/**
 * Runs in the editor: the runs of each service kept in the workspace's runs database (read back
 * on activation, written in the background), labelled with the git commit and dirty state at
 * their start; a Runs view per service; commands to pin and unpin a baseline; error groups new
 * since the baseline in Problems. The lens, hover and route table read the comparison from the
 * core (src/core/runs).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { RunDatabase } from '../../core/runs/database';
import type { Run, RunLabel } from '../../core/runs/run';
import type { FeatureContext } from '../context';
import { RunsTree, type RunNode } from './tree';

export const DB_FILE = 'runs.sqlite';

interface RunsSettings {
  enabled: boolean;
  keepPerService: number;
  maxMegabytes: number;
  pauseSeconds: number;
}

/** Waits at most this long after a change before writing the database. */
const SAVE_DELAY_MS = 3000;

export function register(ctx: FeatureContext): vscode.Disposable {
  const tracker = ctx.store.runs;
  const disposables: vscode.Disposable[] = [];
  let settings: RunsSettings = ctx.settings().runs;
  const apply = () => {
    tracker.runsPerService = settings.keepPerService;
    tracker.pauseMs = settings.pauseSeconds * 1000;
  };
  apply();

  const storage = ctx.extension.storageUri ?? ctx.extension.globalStorageUri;
  const file = join(storage.fsPath, DB_FILE);
  let db: RunDatabase | undefined;
  let disposed = false;
  let saveTimer: NodeJS.Timeout | undefined;

  // Git: where the workspace stood when a run started (asked as the run starts).
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const labelRun = (run: Run) => {
    if (!folder) return;
    void gitLabel(folder).then((label) => {
      if (!label || run.label) return;
      run.label = label;
      run.touch();
      tree.refresh();
    });
  };

  const problems = vscode.languages.createDiagnosticCollection('routelens-runs');
  disposables.push(problems);
  const tree = new RunsTree(tracker);
  disposables.push(tree, vscode.window.createTreeView('routelens.runs', { treeDataProvider: tree, showCollapseAll: false }));

  const owner = () => ctx.collector().state === 'listening';
  // The spans of each run's slowest requests, taken while the store still has them.
  const capture = () => tracker.captureSampleTraces((id) => ctx.store.trace(id));
  const save = async () => {
    saveTimer = undefined;
    capture();
    // Only the window that owns the collector writes: a viewer window sees the same runs.
    if (!db || disposed || !settings.enabled || !owner()) return;
    try {
      const r = await db.save(tracker.allRuns(), tracker.pinsSnapshot());
      if (r.written || r.deleted) ctx.log.debug(`[runs] saved ${r.written} run(s)${r.deleted ? `, dropped ${r.deleted} old one(s)` : ''}: ${(r.bytes / 1024).toFixed(0)} KiB, ${r.syncMs.toFixed(1)} ms`);
    } catch (e) {
      ctx.log.warn(`[runs] could not write ${file}: ${(e as Error).message}`);
    }
  };
  const scheduleSave = (soon = false) => {
    if (!db || disposed) return;
    if (saveTimer && !soon) return;
    if (saveTimer) clearTimeout(saveTimer);
    saveTimer = setTimeout(() => void save(), soon ? 200 : SAVE_DELAY_MS);
  };

  let lastProblems = '';
  const refreshProblems = () => {
    problems.clear();
    const byFile = new Map<string, vscode.Diagnostic[]>();
    let key = '';
    for (const service of tracker.services()) {
      const c = tracker.comparison(service);
      if (!c || !c.baseline) continue;
      for (const g of c.newErrorGroups) {
        const loc = g.location;
        if (!loc || !loc.file || !existsSync(loc.file)) continue;
        key += `${g.fingerprint}:${g.count};`;
        const line = Math.max(0, loc.line - 1);
        const against = c.baselineKind === 'pinned' ? 'the baseline run' : 'the last run';
        const d = new vscode.Diagnostic(new vscode.Range(line, 0, line, 1000), `New since ${against}: ${g.type}: ${g.message.replace(/\s+/g, ' ').slice(0, 200)} (×${g.count}${g.route ? `, ${g.method ?? ''} ${g.route}` : ''})`, vscode.DiagnosticSeverity.Warning);
        d.source = 'Routelens runs';
        d.code = 'new-error-since-baseline';
        const list = byFile.get(loc.file) ?? [];
        list.push(d);
        byFile.set(loc.file, list);
      }
    }
    if (key === lastProblems) return;
    lastProblems = key;
    for (const [f, list] of byFile) problems.set(vscode.Uri.file(f), list);
  };

  let refreshTimer: NodeJS.Timeout | undefined;
  const refreshSoon = () => {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = undefined;
      capture();
      tree.refresh();
      refreshProblems();
    }, 1000);
  };

  disposables.push(
    { dispose: tracker.onDidChange((e) => {
        if (e.started) {
          const run = tracker.latest(e.service);
          if (run) labelRun(run);
        }
        tree.refresh();
        refreshProblems();
        scheduleSave(e.started);
      }).dispose },
    { dispose: ctx.store.onDidChange((e) => {
        if (e.spans || e.logs) {
          scheduleSave();
          refreshSoon();
        }
      }).dispose },
  );

  disposables.push(
    vscode.commands.registerCommand('routelens.pinBaseline', async (node?: RunNode) => {
      const run = node?.kind === 'run' ? tracker.find(node.runId) : await pickRun(tracker);
      if (!run) return;
      tracker.pin(run.id);
      void vscode.window.showInformationMessage(`Routelens: ${run.service}'s runs are now compared with the run started ${new Date(run.startMs).toLocaleString()}.`);
    }),
    vscode.commands.registerCommand('routelens.unpinBaseline', async (node?: RunNode) => {
      let service = node?.service;
      if (!service) {
        const pinned = tracker.services().filter((s) => tracker.pinned(s));
        service = pinned.length <= 1 ? pinned[0] : await vscode.window.showQuickPick(pinned, { placeHolder: 'Unpin the baseline of which service?' });
      }
      if (service && tracker.unpin(service)) void vscode.window.showInformationMessage(`Routelens: ${service}'s runs are compared with the previous run again.`);
    }),
    ctx.onDidChangeSettings((e) => {
      if (!e.affectsConfiguration('routelens.runs')) return;
      settings = ctx.settings().runs;
      apply();
      scheduleSave(true);
    }),
  );

  // Open the database in the background: activation never waits for it, nor fails because of it.
  if (settings.enabled) {
    void RunDatabase.open({ file, log: ctx.log, maxRunsPerService: settings.keepPerService, maxBytes: settings.maxMegabytes * 1024 * 1024 })
      .then((opened) => {
        if (disposed) {
          void opened.close();
          return;
        }
        db = opened;
        tracker.traceLoader = (id) => opened.loadTrace(id);
        const runs = opened.loadRuns();
        tracker.restore(runs, opened.loadPins());
        ctx.log.info(`[runs] ${runs.length} earlier run(s) read from ${file}`);
        if (opened.recovered) void vscode.window.showWarningMessage(`Routelens: ${opened.recovered}`);
        tree.refresh();
        refreshProblems();
        scheduleSave();
      })
      .catch((e: Error) => ctx.log.warn(`[runs] the runs database could not be opened (${e.message}); runs are kept for this window only`));
  }

  return {
    dispose: () => {
      disposed = true;
      if (saveTimer) clearTimeout(saveTimer);
      if (refreshTimer) clearTimeout(refreshTimer);
      if (db) {
        // The window is closing and nothing waits for a promise: the last changes are written now.
        try {
          tracker.traceLoader = undefined;
          if (settings.enabled && owner()) capture();
          if (settings.enabled && owner()) db.saveAndCloseSync(tracker.allRuns(), tracker.pinsSnapshot());
          else void db.close();
        } catch (e) {
          ctx.log.warn(`[runs] could not write ${file} on close: ${(e as Error).message}`);
        }
      }
      for (const d of disposables.reverse()) d.dispose();
    },
  };
}

async function pickRun(tracker: FeatureContext['store']['runs']): Promise<Run | undefined> {
  const items = tracker.services().flatMap((s) =>
    tracker.runs(s).map((r) => ({ label: `${s} · ${new Date(r.startMs).toLocaleString()}`, description: `${r.requests} requests · ${r.errors} errors${r.label?.commit ? ` · ${r.label.commit}${r.label.dirty ? '*' : ''}` : ''}`, id: r.id })),
  );
  if (!items.length) {
    void vscode.window.showInformationMessage('Routelens: no runs yet. Start the API and send it a few requests.');
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(items, { placeHolder: 'Pin which run as the baseline?' });
  return pick ? tracker.find(pick.id) : undefined;
}

function git(cwd: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('git', args, { cwd, timeout: 3000, maxBuffer: 1024 * 1024, windowsHide: true }, (err, stdout) => resolve(err ? undefined : stdout));
  });
}

/** The workspace's commit, whether it is dirty, and (at most 5) changed files; undefined outside git. */
export async function gitLabel(cwd: string): Promise<RunLabel | undefined> {
  const head = await git(cwd, ['rev-parse', '--short', 'HEAD']);
  if (head === undefined) return undefined;
  const status = (await git(cwd, ['status', '--porcelain', '--untracked-files=no'])) ?? '';
  const changed = status
    .split('\n')
    .map((l) => l.slice(3).trim())
    .filter(Boolean);
  return { commit: head.trim(), dirty: changed.length > 0, ...(changed.length ? { changed: changed.slice(0, 5) } : {}) };
}
