import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { exportOtlpJson } from '../../src/core/importExport';
import { TelemetryStore } from '../../src/core/store/store';
import { serverSpan } from '../unit/helpers/telemetry';
import { api } from './helpers';


describe('nothing lost: snapshot and import', () => {
  it('saves a snapshot to the extension storage and restores it', async () => {
    const a = await api();
    a.store.clear();
    a.store.addSpans([serverSpan({ route: '/snap/{id}', durationMs: 5 }), serverSpan({ route: '/snap/{id}', durationMs: 7 })]);
    a.saveSnapshot();
    a.store.clear();
    assert.equal(a.store.sizes().spans, 0);
    assert.equal(a.restoreSnapshot(), 2);
    const r = a.store.routeSummaries(900).find((x) => x.route === '/snap/{id}');
    assert.equal(r?.count, 2);
  });

  it('imports an OTLP JSON file with the Import Data command', async () => {
    const a = await api();
    a.store.clear();
    const src = new TelemetryStore();
    src.addSpans([serverSpan({ route: '/imported', service: 'other-tool' })]);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'routelens-import-')), 'data.otlp.jsonl');
    fs.writeFileSync(file, exportOtlpJson(src));
    await vscode.commands.executeCommand('routelens.importData', vscode.Uri.file(file));
    const r = a.store.routeSummaries(900).find((x) => x.route === '/imported');
    assert.equal(r?.service, 'other-tool');
    assert.equal(r?.count, 1);
  });
});
