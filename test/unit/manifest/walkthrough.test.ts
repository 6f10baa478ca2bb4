/**
 * The manifest's first-run guidance: the walkthrough's steps show files that exist and link to
 * commands that exist, so a new user's first clicks never land on "command not found".
 */
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..', '..', '..');
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** Commands of VS Code itself the walkthrough may link to. */
const BUILT_IN = new Set(['workbench.action.debug.start', 'workbench.actions.view.problems']);

interface Step {
  id: string;
  title: string;
  description: string;
  media: { markdown?: string; image?: string };
  completionEvents?: string[];
}

describe('the walkthrough', () => {
  const ours = new Set<string>(manifest.contributes.commands.map((c: { command: string }) => c.command));
  const walk = manifest.contributes.walkthroughs as { id: string; steps: Step[] }[];

  it('has steps from the collector to Problems, each with its page', () => {
    assert.equal(walk.length, 1);
    const steps = walk[0].steps;
    assert.deepEqual(steps.map((s) => s.id), ['collector', 'run', 'dashboard', 'code', 'problems']);
    for (const s of steps) {
      const file = s.media.markdown ?? s.media.image;
      assert.ok(file && existsSync(join(ROOT, file)), `${s.id}: ${file} exists`);
      assert.ok(readFileSync(join(ROOT, file), 'utf8').startsWith('# '), `${s.id}: the page has a title`);
    }
  });

  it('links only to commands that exist', () => {
    for (const s of walk[0].steps) {
      const links = [...s.description.matchAll(/\(command:([\w.]+)\)/g)].map((m) => m[1]);
      const events = (s.completionEvents ?? []).filter((e) => e.startsWith('onCommand:')).map((e) => e.slice('onCommand:'.length));
      assert.ok(links.length > 0, `${s.id} has an action`);
      for (const c of [...links, ...events]) assert.ok(ours.has(c) || BUILT_IN.has(c), `${s.id}: ${c} is a command`);
    }
    const views = new Set<string>(Object.values(manifest.contributes.views as Record<string, { id: string }[]>).flat().map((v) => v.id));
    for (const s of walk[0].steps) for (const e of s.completionEvents ?? []) if (e.startsWith('onView:')) assert.ok(views.has(e.slice(7)), e);
  });

  it('is packaged: the VSIX allowlist keeps media/', () => {
    assert.match(readFileSync(join(ROOT, '.vscodeignore'), 'utf8'), /^!media\/\*\*$/m);
  });
});
