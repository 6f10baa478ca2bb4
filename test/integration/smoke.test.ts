import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

const EXTENSION_ID = 'routelens.routelens';

describe('smoke: the real extension host', () => {
  it('runs a real VS Code 1.x', () => {
    assert.match(vscode.version, /^1\./);
  });

  it('has the Routelens extension, and it activates', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `extension ${EXTENSION_ID} is not loaded (is the extension development path right?)`);
    await ext.activate();
    assert.equal(ext.isActive, true);
  });
});
