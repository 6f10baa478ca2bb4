/**
 * The Runs view: each service, and under it its runs, newest first (the current one and the
 * previous ones): start, duration, requests, errors, the git commit and dirty state at the start,
 * and which run is the baseline.
 */
import * as vscode from 'vscode';
import type { Run } from '../../core/runs/run';
import type { RunTracker } from '../../core/runs/tracker';

export type RunNode = { kind: 'service'; service: string } | { kind: 'run'; service: string; runId: string };

export class RunsTree implements vscode.TreeDataProvider<RunNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly tracker: RunTracker) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  getChildren(node?: RunNode): RunNode[] {
    if (!node) return this.tracker.services().map((service) => ({ kind: 'service', service }));
    if (node.kind === 'service') return this.tracker.runs(node.service).map((r) => ({ kind: 'run', service: node.service, runId: r.id }));
    return [];
  }

  getTreeItem(node: RunNode): vscode.TreeItem {
    if (node.kind === 'service') {
      const item = new vscode.TreeItem(node.service, vscode.TreeItemCollapsibleState.Expanded);
      const pinned = this.tracker.pinned(node.service);
      item.description = pinned ? 'compared with a pinned baseline' : 'each run compared with the one before';
      item.iconPath = new vscode.ThemeIcon('server-process');
      item.contextValue = pinned ? 'routelens.service.pinned' : 'routelens.service';
      return item;
    }
    const run = this.tracker.find(node.runId);
    if (!run) return new vscode.TreeItem('(gone)');
    const latest = this.tracker.latest(node.service) === run;
    const pinned = this.tracker.pinned(node.service) === run.id;
    const base = latest ? undefined : this.tracker.baselineOf(this.tracker.latest(node.service)!);
    const isBaseline = base?.run === run;
    const item = new vscode.TreeItem(`${latest ? 'current · ' : ''}${startLabel(run.startMs)}`, vscode.TreeItemCollapsibleState.None);
    item.id = run.id;
    item.description = runDescription(run) + (pinned ? ' · baseline (pinned)' : isBaseline ? ' · baseline' : '');
    item.tooltip = runTooltip(run, latest, pinned);
    item.iconPath = new vscode.ThemeIcon(pinned ? 'pinned' : latest ? 'play-circle' : 'history');
    item.contextValue = pinned ? 'routelens.run.pinned' : 'routelens.run';
    return item;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

function startLabel(ms: number): string {
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

export function formatDuration(sec: number): string {
  if (sec < 60) return `${Math.round(sec)} s`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ${Math.round(sec % 60)} s`;
  return `${Math.floor(sec / 3600)} h ${Math.round((sec % 3600) / 60)} min`;
}

export function runDescription(run: Run): string {
  const git = run.label?.commit ? ` · ${run.label.commit}${run.label.dirty ? ' (dirty)' : ''}` : '';
  return `${formatDuration(run.durationSec())} · ${run.requests.toLocaleString('en-US')} req · ${run.errors.toLocaleString('en-US')} err${git}`;
}

function runTooltip(run: Run, latest: boolean, pinned: boolean): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, false);
  md.supportHtml = false;
  const lines = [
    `${run.service}: ${latest ? 'the current run' : 'an earlier run'}${pinned ? ', pinned as the baseline' : ''}`,
    `Started ${new Date(run.startMs).toLocaleString()}${run.endMs ? `, ended ${new Date(run.endMs).toLocaleString()}` : ''}`,
    `${run.requests} requests, ${run.errors} errors, ${run.routes.size} routes, ${run.errorGroups.size} error groups`,
    `${run.instances.length} process(es) (${run.source === 'traffic' ? 'told apart by pauses in traffic' : 'told apart by instance'})`,
  ];
  if (run.label?.commit) lines.push(`Git ${run.label.commit}${run.label.dirty ? `, with changes: ${(run.label.changed ?? []).join(', ')}` : ', clean'}`);
  for (const l of lines) {
    md.appendText(l);
    md.appendMarkdown('\n\n');
  }
  return md;
}
