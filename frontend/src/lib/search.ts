// Binary search over lists sorted by a numeric key: layouts of 500,000 images are found in this way,
// never by walking them.

/** The index of the last item whose key is at or below `value` (0 when none is). */
export function lastAtOrBelow<T>(items: T[], value: number, key: (item: T) => number): number {
  let low = 0;
  let high = items.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (key(items[mid]) <= value) low = mid;
    else high = mid - 1;
  }
  return low;
}
