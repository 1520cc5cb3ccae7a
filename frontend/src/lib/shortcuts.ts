// Keyboard shortcuts: each component registers its own with a description, so the help panel lists
// exactly the shortcuts that exist. A key like "mod+z" means Ctrl+Z (Cmd+Z on a Mac).

export interface Shortcut {
  keys: string;            // "mod+shift+z", "arrowright", "?", "a"
  description: string;
  section: string;         // where it works: "Everywhere", "Grid", "Image detail", ...
  /** Left out for a key that is only listed in the help: the focused element handles it itself. */
  run?: (event: KeyboardEvent) => void;
  /** Only active while this returns true (say, while the detail view is open). */
  when?: () => boolean;
}

const registered = new Set<Shortcut>();

/** Keys a text field handles itself. */
const TEXT_EDITING = new Set(["mod+z", "mod+shift+z", "mod+y", "mod+a", "mod+c", "mod+v", "mod+x"]);

/** Register shortcuts; returns the function that removes them (call it from a component's teardown). */
export function shortcuts(...list: Shortcut[]): () => void {
  for (const s of list) registered.add(s);
  return () => {
    for (const s of list) registered.delete(s);
  };
}

export function allShortcuts(): Shortcut[] {
  return [...registered];
}

function keysOf(event: KeyboardEvent): string {
  const parts: string[] = [];
  if (event.ctrlKey || event.metaKey) parts.push("mod");
  if (event.altKey) parts.push("alt");
  const key = event.key.toLowerCase();
  // Shift is part of printable keys already ("?" is shift+/), so it is named only for the others.
  if (event.shiftKey && (key.length > 1 || /[a-z]/.test(key))) parts.push("shift");
  parts.push(key);
  return parts.join("+");
}

/** Inputs that take no text: they keep the arrows and such, but Ctrl+Z there is the page's undo. */
const NOT_TEXT = new Set(["range", "checkbox", "radio", "button", "submit", "reset", "color", "file"]);

/** Whether the event's target is a form field (which keeps the plain keys for itself). */
function inField(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  if (!element) return false;
  return element.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(element.tagName);
}

/** Whether the event's target takes typed text (and so keeps its own undo, copy and paste). */
function inText(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  if (element instanceof HTMLInputElement) return !NOT_TEXT.has(element.type);
  return !!element && (element.isContentEditable || element.tagName === "TEXTAREA");
}

/** Whether the event's target is a control that Enter or Space activates (a button, a link, a menu item). */
function activates(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  return !!element?.closest?.("button, a[href], [role=button], [role=menuitem], [role=option], summary");
}

/** The page's one keydown listener (installed by App.svelte). */
export function dispatchShortcut(event: KeyboardEvent): void {
  const keys = keysOf(event);
  // In a form field only shortcuts with a modifier, and Escape, apply; a text field also keeps its own
  // editing keys: Ctrl+Z there undoes the typing, not the project's last operation.
  if (inField(event.target) && !keys.startsWith("mod+") && keys !== "escape") return;
  if (inText(event.target) && TEXT_EDITING.has(keys)) return;
  // A focused button keeps its own Enter and Space, so keyboard users can press it.
  if ((keys === "enter" || keys === " ") && activates(event.target)) return;
  const matches = [...registered].filter((s) => s.run && s.keys === keys && (s.when?.() ?? true));
  // The most recently registered wins: an open dialog's Escape before the page's.
  const shortcut = matches[matches.length - 1];
  if (shortcut?.run) {
    event.preventDefault();
    shortcut.run(event);
  }
}
