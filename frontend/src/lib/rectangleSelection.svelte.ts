// Selecting the grid's images by dragging a rectangle on its background: the rectangle lives in layout
// coordinates, so it may span a scroll; dragged into the band along the grid's top or bottom edge it
// scrolls the grid, faster the further out. Ctrl, Cmd or Shift add to the selection.

import { app } from "./app.svelte";
import { indicesIn, type Layout } from "./gridLayout";
import type { ScaledScroll } from "./scaledScroll.svelte";
import { clearSelection, selectIndices } from "./selection";

/** The band (px) along the grid's top and bottom where a dragged rectangle scrolls it. */
const EDGE = 24;

interface Drag { x0: number; y0: number; clientX: number; clientY: number; base: Set<number>; moved: boolean }

export class RectangleSelection {
  /** The rectangle shown, in layout coordinates. */
  rect = $state<{ x0: number; y0: number; x1: number; y1: number } | null>(null);
  private drag: Drag | null = null;
  private autoScroll = 0;
  private readonly scroll: ScaledScroll;
  private readonly layout: () => Layout | null;

  constructor(scroll: ScaledScroll, layout: () => Layout | null) {
    this.scroll = scroll;
    this.layout = layout;
  }

  start(event: PointerEvent): void {
    const element = this.scroll.element;
    if (event.button !== 0 || !element || !this.layout()) return;
    const target = event.target as HTMLElement;
    if (target.closest(".tile, .header, .editing")) return;
    // The scrollbar is part of the scroller too: a press there scrolls, it does not select.
    if (event.clientX - element.getBoundingClientRect().left > element.clientWidth) return;
    const { x, y } = this.pointInLayout(event.clientX, event.clientY);
    const add = event.ctrlKey || event.metaKey || event.shiftKey;
    this.drag = { x0: x, y0: y, clientX: event.clientX, clientY: event.clientY,
                  base: add ? app.selection : new Set(), moved: false };
    element.setPointerCapture(event.pointerId);
    event.preventDefault();
    element.focus({ preventScroll: true });
  }

  move(event: PointerEvent): void {
    if (!this.drag) return;
    this.drag.clientX = event.clientX;
    this.drag.clientY = event.clientY;
    this.update();
  }

  /** The pointer or the grid moved: the rectangle and the selection follow. */
  update(): void {
    const drag = this.drag;
    const layout = this.layout();
    if (!drag || !layout) return;
    const { x, y } = this.pointInLayout(drag.clientX, drag.clientY);
    if (!drag.moved && Math.abs(x - drag.x0) + Math.abs(y - drag.y0) < 5) return;
    drag.moved = true;
    this.rect = { x0: drag.x0, y0: drag.y0, x1: x, y1: y };
    selectIndices(indicesIn(layout, drag.x0, drag.y0, x, y), drag.base);
    if (!this.autoScroll && this.pastEdge() !== 0) this.autoScroll = requestAnimationFrame(this.autoScrollStep);
  }

  end(): void {
    this.stop();
    if (!this.drag) return;
    if (!this.drag.moved && this.drag.base.size === 0) clearSelection();
    this.drag = null;
    this.rect = null;
  }

  /** Stop scrolling (the grid goes away). */
  stop(): void {
    cancelAnimationFrame(this.autoScroll);
    this.autoScroll = 0;
  }

  private pointInLayout(clientX: number, clientY: number): { x: number; y: number } {
    const box = this.scroll.element!.getBoundingClientRect();
    return { x: clientX - box.left, y: clientY - box.top + this.scroll.top };
  }

  /** How far (px) the dragging pointer is into the band along the grid's top (< 0) or bottom (> 0) edge,
   * or beyond it. */
  private pastEdge(): number {
    const element = this.scroll.element;
    if (!this.drag?.moved || !element) return 0;
    const box = element.getBoundingClientRect();
    if (this.drag.clientY < box.top + EDGE) return this.drag.clientY - (box.top + EDGE);
    if (this.drag.clientY > box.bottom - EDGE) return this.drag.clientY - (box.bottom - EDGE);
    return 0;
  }

  private autoScrollStep = (): void => {
    const over = this.pastEdge();
    if (over === 0) {
      this.autoScroll = 0;
      return;
    }
    const scroll = this.scroll;
    scroll.scrollTo(scroll.top + Math.sign(over) * Math.min(scroll.height / 8, 2 + Math.abs(over) / 2));
    this.update();
    this.autoScroll = requestAnimationFrame(this.autoScrollStep);
  };
}
