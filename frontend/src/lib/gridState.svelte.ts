// The grid's batch dialogs, shared by the grid (group headers, the `t` key) and the selection bar, which
// hosts them so they work from any view mode.

import { count } from "./words";

export interface BatchTarget {
  ids: number[];
  /** What the dialog says it acts on: "12 selected images", "group 2019-05 / cups". */
  title: string;
}

class GridUi {
  /** The "add tag" box, open on these images. */
  tagging = $state.raw<BatchTarget | null>(null);
  /** The "set value" dialog, open on these images. */
  setting = $state.raw<BatchTarget | null>(null);
  /** The tag property the tag box used last, offered first next time. */
  tagProperty = $state<string | null>(null);
}

export const gridUi = new GridUi();

/** How a batch target names its images: "1 image", "12,034 images". */
export function imageCount(n: number): string {
  return count(n, "image");
}
