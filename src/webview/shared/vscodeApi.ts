/** The webview side of VS Code's API, typed for one protocol. acquireVsCodeApi may be called once per page. */
export interface VsCodeApi<ToHost, State> {
  postMessage(m: ToHost): void;
  getState(): State | undefined;
  setState(s: State): void;
}

declare function acquireVsCodeApi(): { postMessage(m: unknown): void; getState(): unknown; setState(s: unknown): void };

let api: ReturnType<typeof acquireVsCodeApi> | undefined;

export function vscodeApi<ToHost, State>(isState: (s: unknown) => s is State): VsCodeApi<ToHost, State> {
  api ??= acquireVsCodeApi();
  const raw = api;
  return {
    postMessage: (m) => raw.postMessage(m),
    // Saved state comes from an older build too: check it like any other input.
    getState: () => {
      const s = raw.getState();
      return isState(s) ? s : undefined;
    },
    setState: (s) => raw.setState(s),
  };
}
