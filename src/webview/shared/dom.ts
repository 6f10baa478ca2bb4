/**
 * DOM helpers for the webviews. Every string goes in as a text node or an attribute value, never
 * as markup: telemetry is attacker-influenced (a request path is whatever a client sent).
 */

export type Child = Node | string;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const k of Object.keys(attrs)) e.setAttribute(k, attrs[k]);
  for (const c of children) e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string> = {}): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, tag);
  for (const k of Object.keys(attrs)) e.setAttribute(k, attrs[k]);
  return e;
}

/** Sets text only when it changed: a text write invalidates layout even when the text is equal. */
export function setText(node: Element, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

export function setAttr(node: Element, name: string, value: string): void {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

export function toggleClass(node: Element, name: string, on: boolean): void {
  if (node.classList.contains(name) !== on) node.classList.toggle(name, on);
}

/** Enter and Space activate, as they do on a button, for elements given role="button" or a row role. */
export function onActivate(node: HTMLElement, action: (e: Event) => void): void {
  node.addEventListener('click', action);
  node.addEventListener('keydown', (e) => {
    if (e.target !== node) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      action(e);
    }
  });
}

export interface KeyedList<T, E extends Element> {
  key(t: T): string;
  create(t: T): E;
  update(e: E, t: T): void;
  /** Children before the list that stay first (a table's head). */
  after?: ChildNode | null;
  removed?(e: E): void;
}

/**
 * Brings a keyed list of children in line with `items`, reusing each item's element, so hover,
 * focus and selection survive updates. Elements are only moved when out of place.
 */
export function reconcile<T, E extends Element>(parent: Element, items: readonly T[], cache: Map<string, E>, list: KeyedList<T, E>): void {
  const focusedKey = keyOfFocused(cache);
  const seen = new Set<string>();
  let cursor: ChildNode | null = list.after ? list.after.nextSibling : parent.firstChild;
  for (const item of items) {
    const k = list.key(item);
    if (seen.has(k)) continue;
    seen.add(k);
    let node = cache.get(k);
    if (!node) {
      node = list.create(item);
      cache.set(k, node);
    }
    list.update(node, item);
    if (node === cursor) cursor = cursor.nextSibling;
    else parent.insertBefore(node, cursor);
  }
  for (const [k, node] of cache) {
    if (!seen.has(k)) {
      node.remove();
      cache.delete(k);
      list.removed?.(node);
    }
  }
  if (focusedKey !== undefined) {
    const again = cache.get(focusedKey);
    // Moving an element drops its focus: give it back.
    if (again instanceof HTMLElement && document.activeElement !== again && !again.contains(document.activeElement)) again.focus({ preventScroll: true });
  }
}

function keyOfFocused<E extends Element>(cache: Map<string, E>): string | undefined {
  const active = document.activeElement;
  if (!active || active === document.body) return undefined;
  for (const [k, node] of cache) if (node === active) return k;
  return undefined;
}
