import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

/**
 * The one place webview HTML is built: a strict CSP with a fresh nonce per render, scripts and
 * styles only from the extension's own files, and no data in the HTML (data goes by postMessage).
 */
export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, opts: { script: string; styles: string[]; title: string }): string {
  const nonce = randomBytes(16).toString('base64');
  const csp = [
    "default-src 'none'",
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `img-src ${webview.cspSource} data:`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  const uri = (...p: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...p)).toString();
  const styles = opts.styles.map((s) => `<link rel="stylesheet" href="${uri('media', s)}">`).join('\n    ');
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <meta http-equiv="Content-Security-Policy" content="${csp}">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    ${styles}
    <title>${opts.title}</title>
  </head>
  <body>
    <div id="app" role="main"></div>
    <script nonce="${nonce}" src="${uri('dist', 'webview', opts.script)}"></script>
  </body>
</html>`;
}

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}
