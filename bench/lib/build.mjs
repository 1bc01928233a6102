// Builds the bench's own native pieces into bench/.build (never build/ or prebuilds/): the C
// syscall loop, the bare Node-API floor and an empty node-addon-api function, with the same flags node-gyp uses for the package.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const buildDir = path.join(root, 'bench', '.build');
const nativeDir = path.join(root, 'bench', 'percall', 'native');

/** TCP state counts for connections with `port` at either end, from the package's one reader (net-linger/lab). */
export function tcpStates(port) {
  return require(path.join(root, 'dist', 'cjs', 'lab', 'index.js')).tcpStateCounts(port) ?? {};
}

/** The Node headers the package itself builds against (npm's nodedir, else next to this node). */
export function nodeIncludeDir() {
  const candidates = [process.env.npm_config_nodedir, path.resolve(process.execPath, '..', '..'), '/usr']
    .filter(Boolean)
    .map((dir) => path.join(dir, 'include', 'node'));
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));
  if (!found) throw new Error(`node_api.h not found in ${candidates.join(', ')}; set npm_config_nodedir`);
  return found;
}

const ADDON_FLAGS = ['-O3', '-fno-omit-frame-pointer', '-fPIC', '-pthread', '-shared', '-std=c++17', '-fno-rtti',
  '-fno-exceptions', '-DNAPI_VERSION=8', '-DNAPI_DISABLE_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED'];

function newer(output, inputs) {
  if (!fs.existsSync(output)) return false;
  const built = fs.statSync(output).mtimeMs;
  return inputs.every((input) => fs.statSync(input).mtimeMs < built);
}

function compile(compiler, output, sources, flags) {
  if (newer(output, sources)) return output;
  execFileSync(compiler, [...flags, '-o', output, ...sources], { stdio: 'inherit' });
  return output;
}

/** { syscallLoop, bareAddon, addonApiNoop }: paths of the built pieces. */
export function buildBenchNatives() {
  fs.mkdirSync(buildDir, { recursive: true });
  const include = nodeIncludeDir();
  const addonApi = path.dirname(require.resolve('node-addon-api/napi.h'));
  return {
    syscallLoop: compile('gcc', path.join(buildDir, 'syscall_loop'), [path.join(nativeDir, 'syscall_loop.c')],
      ['-O2', '-Wall', '-Wextra']),
    bareAddon: compile('g++', path.join(buildDir, 'bare_addon.node'), [path.join(nativeDir, 'bare_addon.cc')],
      [...ADDON_FLAGS, `-I${include}`]),
    addonApiNoop: compile('g++', path.join(buildDir, 'addon_api_noop.node'), [path.join(nativeDir, 'addon_api_noop.cc')],
      [...ADDON_FLAGS, `-I${include}`, `-I${addonApi}`]),
  };
}
