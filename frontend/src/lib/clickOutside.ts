// Menus and popovers close when the user clicks anywhere else on the page.

/** A Svelte action: `use:clickOutside={close}` calls `close` on every click outside the element. */
export function clickOutside(node: HTMLElement, close: () => void) {
  let current = close;
  const onclick = (event: MouseEvent) => {
    if (!node.contains(event.target as Node)) current();
  };
  window.addEventListener("click", onclick);
  return {
    update(next: () => void) {
      current = next;
    },
    destroy() {
      window.removeEventListener("click", onclick);
    },
  };
}
