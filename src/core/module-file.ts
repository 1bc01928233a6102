// Where the running code sits: this file in the package, or the bundle it was inlined into. The
// loader looks for the addon from here. The one file that differs between the package's two builds:
// this is the CommonJS one; scripts/build-ts.mjs writes the ES module one, which asks
// import.meta.url last (webpack rewrites it to the build machine's path).
import path from 'node:path';
import { callerFile } from './caller-file.js';

/** The absolute path of the file this code runs from, or undefined where nothing tells. */
export function moduleFile(): string | undefined {
  // Absolute only: `node -e` and the REPL define a global __filename ('[eval]'), which an ES module
  // bundle of this build (ncc's) would otherwise take for its own.
  try {
    if (typeof __filename === 'string' && path.isAbsolute(__filename)) return __filename;
  } catch {
    // an ES module bundle where a bundler declared __filename defined and left it undefined (webpack)
  }
  return callerFile(moduleFile);
}
