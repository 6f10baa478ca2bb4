/**
 * Theme colours for what CSS cannot style (canvas charts): read from the --vscode-* variables
 * VS Code sets on the webview's root, and read again when the theme changes.
 */

export interface Theme {
  kind: 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';
  foreground: string;
  muted: string;
  grid: string;
  border: string;
  background: string;
  fontFamily: string;
  fontSize: number;
  blue: string;
  green: string;
  orange: string;
  purple: string;
  red: string;
  yellow: string;
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const v = style.getPropertyValue(name).trim();
  return v || fallback;
}

export function themeKind(): Theme['kind'] {
  const c = document.body.classList;
  if (c.contains('vscode-high-contrast-light')) return 'high-contrast-light';
  if (c.contains('vscode-high-contrast')) return 'high-contrast';
  return c.contains('vscode-light') ? 'light' : 'dark';
}

export function readTheme(): Theme {
  const s = getComputedStyle(document.documentElement);
  const kind = themeKind();
  const light = kind === 'light' || kind === 'high-contrast-light';
  const foreground = cssVar(s, '--vscode-foreground', light ? '#3b3b3b' : '#cccccc');
  const contrast = kind.startsWith('high-contrast');
  return {
    kind,
    foreground,
    muted: cssVar(s, '--vscode-descriptionForeground', light ? '#717171' : '#9d9d9d'),
    // Grid lines: the editor's own faint lines when the theme has them, else a translucent foreground.
    grid: contrast ? cssVar(s, '--vscode-contrastBorder', foreground) : cssVar(s, '--vscode-editorIndentGuide-background1', light ? 'rgba(0,0,0,0.09)' : 'rgba(255,255,255,0.09)'),
    border: cssVar(s, '--vscode-panel-border', light ? '#e5e5e5' : '#2b2b2b'),
    background: cssVar(s, '--vscode-sideBar-background', light ? '#f8f8f8' : '#181818'),
    fontFamily: cssVar(s, '--vscode-font-family', 'system-ui, sans-serif'),
    fontSize: parseFloat(cssVar(s, '--vscode-font-size', '13')) || 13,
    blue: cssVar(s, '--vscode-charts-blue', '#3794ff'),
    green: cssVar(s, '--vscode-charts-green', '#89d185'),
    orange: cssVar(s, '--vscode-charts-orange', '#d18616'),
    purple: cssVar(s, '--vscode-charts-purple', '#b180d7'),
    red: cssVar(s, '--vscode-charts-red', '#f14c4c'),
    yellow: cssVar(s, '--vscode-charts-yellow', '#cca700'),
  };
}

/**
 * Calls `listener` after VS Code switches theme: it swaps the body's vscode-light / vscode-dark /
 * vscode-high-contrast class and the variables together, so the class change is the signal.
 */
export function onThemeChange(listener: (t: Theme) => void): () => void {
  let last = `${document.body.className}`;
  const observer = new MutationObserver(() => {
    if (document.body.className === last) return;
    last = document.body.className;
    listener(readTheme());
  });
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  return () => observer.disconnect();
}
