/**
 * Maps a path reported by an app (which may run in a container or on another machine) to a file on
 * this machine: first the configured mappings (remote root → local root), then the path as is, then
 * the path's tail under each workspace folder (an app in a container at /app, say).
 */
export interface PathMapping {
  remoteRoot: string;
  localRoot: string;
}

function join(root: string, rest: string): string {
  return root.replace(/[\\/]+$/, '') + '/' + rest.replace(/^[\\/]+/, '');
}

export function mapToLocal(file: string, mappings: PathMapping[], workspaceRoots: string[], exists: (p: string) => boolean): string | undefined {
  if (!file) return undefined;
  const norm = file.replace(/\\/g, '/');
  for (const m of mappings) {
    const remote = m.remoteRoot.replace(/\\/g, '/').replace(/\/+$/, '');
    if (norm === remote || norm.startsWith(remote + '/')) {
      const candidate = join(m.localRoot, norm.slice(remote.length));
      if (exists(candidate)) return candidate;
    }
  }
  if (exists(file)) return file;
  // Try ever shorter tails: /app/shop/app.py → shop/app.py → app.py under each workspace folder.
  const parts = norm.split('/').filter(Boolean);
  for (let i = 1; i < parts.length; i++) {
    const tail = parts.slice(i).join('/');
    for (const root of workspaceRoots) {
      const candidate = join(root, tail);
      if (exists(candidate)) return candidate;
    }
  }
  return undefined;
}
