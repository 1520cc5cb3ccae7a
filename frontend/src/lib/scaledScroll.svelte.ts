// A scroller over content taller than browsers let an element be (their cap is near 16-33 M px): the scrolled
// spacer is capped and its scroll position is mapped onto the content's full height, so the scrollbar is a
// scaled scrubber while the wheel and the keyboard move by real pixels. `top`, the top of the viewport in
// content pixels, is the truth; the element's scrollTop follows it.

/** Below most browsers' limits with room to spare; the content may be taller, the spacer never is. */
const MAX_SPACER = 8_000_000;
/** Content is placed from a base near the top, moved only every REBASE pixels (far below browsers' limits on a
 * coordinate): scrolling moves one composited layer instead of repainting what it holds. */
const REBASE = 1_000_000;

export class ScaledScroll {
  /** Read lazily, by the derived values below: the content's height may depend on this viewport's. */
  private readonly contentHeight: () => number;
  element: HTMLDivElement | undefined = $state();
  /** The viewport's height. */
  height = $state(0);
  top = $state(0);
  readonly spacer = $derived.by(() => Math.min(this.contentHeight(), MAX_SPACER));
  /** Content pixels per scrolled pixel (1 until the content outgrows the spacer). */
  readonly ratio = $derived.by(() => this.spacer > this.height
    ? Math.max(1, (this.contentHeight() - this.height) / (this.spacer - this.height)) : 1);
  readonly maxTop = $derived.by(() => Math.max(0, this.contentHeight() - this.height));
  readonly base = $derived(Math.floor(this.top / REBASE) * REBASE);
  /** The scrollTop set here: its scroll event must not round `top` back to a whole pixel. */
  private expectedScrollTop = -1;

  constructor(contentHeight: () => number) {
    this.contentHeight = contentHeight;
  }

  scrollTo(value: number): void {
    this.top = Math.max(0, Math.min(this.maxTop, value));
    if (!this.element) return;
    const scrollTop = Math.round(this.top / this.ratio);
    if (this.element.scrollTop !== scrollTop) {
      this.expectedScrollTop = scrollTop;
      this.element.scrollTop = scrollTop;
    }
  }

  /** The element scrolled (its scrollbar dragged, a key): follow it, unless it is the echo of `scrollTo`.
   * Whether `top` moved. */
  followScroll(): boolean {
    if (!this.element) return false;
    const echo = Math.abs(this.element.scrollTop - this.expectedScrollTop) <= 1;
    this.expectedScrollTop = -1;
    if (echo) return false;
    this.top = Math.max(0, Math.min(this.maxTop, this.element.scrollTop * this.ratio));
    return true;
  }

  /** Over a scaled spacer a wheel notch would move `ratio` times too far: the wheel moves the content itself
   * (by `line` pixels a line). Whether it did. */
  wheel(event: WheelEvent, line: number): boolean {
    if (this.ratio <= 1.001 || event.ctrlKey) return false;
    event.preventDefault();
    const unit = event.deltaMode === 1 ? line : event.deltaMode === 2 ? this.height : 1;
    this.scrollTo(this.top + event.deltaY * unit);
    return true;
  }
}
