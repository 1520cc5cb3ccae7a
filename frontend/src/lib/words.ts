// Counts in words: "1 image", "2 images", "1 group", "12,034 folders": the singular for exactly one.

export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n.toLocaleString()} ${n === 1 ? singular : plural}`;
}
