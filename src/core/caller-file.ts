// The file a function runs from, read from its own stack frame: the last resort of moduleFile()
// (module-file.ts) for bundle formats that hide both __filename and import.meta.url, such as
// ncc's ES module output, which inlines the CommonJS build. Shared by the package's two builds.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The absolute path of the file `fn` (a function on the current stack) runs from, or undefined. */
export function callerFile(fn: Function): string | undefined {
  const saved = Error.prepareStackTrace;
  try {
    // Raw call sites: a source map support hook would otherwise turn the bundle's path into the source's.
    Error.prepareStackTrace = (_, sites) => sites;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, fn);
    const name = (holder.stack as NodeJS.CallSite[] | undefined)?.[0]?.getFileName();
    if (!name) return undefined;
    if (name.startsWith('file:')) return fileURLToPath(name);
    return path.isAbsolute(name) ? name : undefined;
  } catch {
    return undefined;
  } finally {
    Error.prepareStackTrace = saved;
  }
}
