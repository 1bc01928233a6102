// Where the running code sits: this file in the package, or the bundle it was inlined into. The
// loader looks for the addon from here. The one file that differs between the package's two builds:
// this is the CommonJS one; scripts/build-ts.mjs writes the ES module one (import.meta.url), which
// still prefers __filename where a bundler turned it back into CommonJS.

/** The absolute path of the file this code runs from, or undefined where the format hides it. */
export function moduleFile(): string | undefined {
  return typeof __filename === 'string' && __filename !== '' ? __filename : undefined;
}
