// Naming files apart: copies of one picture often share a file name in different folders.

/** Each path's shortest ending (whole folders and the name) that no other of `paths` ends with: the name
 * alone where it is unique, else "2019/astronaut.jpg", "copies/2019/astronaut.jpg". */
export function distinctEndings(paths: string[]): string[] {
  const parts = paths.map((path) => path.split("/").filter(Boolean));
  return parts.map((mine, i) => {
    for (let n = 1; n < mine.length; n++) {
      const ending = mine.slice(-n).join("/");
      const shared = parts.some((other, j) => j !== i && other.slice(-n).join("/") === ending);
      if (!shared) return ending;
    }
    return paths[i];
  });
}
