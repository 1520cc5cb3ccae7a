import { defineConfig, type Plugin } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

// The built page ships inside the Python package, so `pip install` needs no Node.
const OUT_DIR = "../src/imagier/server/webui";

// The files whose content decides the build; tests/test_webui.py hashes the same list the same way to
// tell whether the committed build is older than the sources.
const STAMPED = [
  "index.html", "openapi.json", "package.json", "package-lock.json", "vite.config.ts", "svelte.config.js", "tsconfig.json", "src",
];

function sourceFiles(path: string): string[] {
  if (statSync(path).isDirectory()) {
    return readdirSync(path).flatMap((name) => sourceFiles(join(path, name)));
  }
  return [path];
}

export function sourceHash(root: string): string {
  const hash = createHash("sha256");
  const files = STAMPED.flatMap((name) => sourceFiles(join(root, name)))
    .map((file) => relative(root, file).split("\\").join("/"))
    .sort();
  for (const file of files) {
    hash.update(file + "\0");
    hash.update(readFileSync(join(root, file)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

function buildStamp(): Plugin {
  let outDir = OUT_DIR;
  return {
    name: "imagier-build-stamp",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;  // --outDir builds elsewhere (served with IMAGIER_WEBUI=that folder)
    },
    closeBundle() {
      writeFileSync(join(outDir, "build-stamp.json"), JSON.stringify({ sources: sourceHash(".") }) + "\n");
    },
  };
}

export default defineConfig({
  plugins: [svelte(), buildStamp()],
  build: { outDir: OUT_DIR, emptyOutDir: true, chunkSizeWarningLimit: 1000 },
  server: { proxy: { "/api": "http://127.0.0.1:8765" } },
});
