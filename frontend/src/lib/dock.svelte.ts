// Bars docked along the bottom of the window (the selection bar, the suggestions strip): the messages
// rise above the highest of them, so a message never covers their buttons (Clear, Accept, Reject).

const docked = new Set<HTMLElement>();

/** How far from the window's bottom edge the docked bars reach, in pixels. */
export const dock = $state({ inset: 0 });

function measure(): void {
  let inset = 0;
  for (const bar of docked) inset = Math.max(inset, window.innerHeight - bar.getBoundingClientRect().top);
  dock.inset = Math.max(0, inset);
}

/** A Svelte action for a bar docked at the bottom of the window. */
export function dockedBottom(bar: HTMLElement): { destroy: () => void } {
  docked.add(bar);
  const observer = new ResizeObserver(measure);
  observer.observe(bar);
  window.addEventListener("resize", measure);
  measure();
  return {
    destroy() {
      docked.delete(bar);
      observer.disconnect();
      window.removeEventListener("resize", measure);
      measure();
    },
  };
}
