// What src/socket-ops.ts would be over the raw node_api.h addon copy: the same validation and
// error objects as the package (imported from dist/), with packed return values for getLinger.
import { createRequire } from 'node:module';
import path from 'node:path';
import { root } from './build.mjs';

const require = createRequire(import.meta.url);
const { resolveHandle } = require(path.join(root, 'dist', 'cjs', 'handle.js'));
const { validateInteger, invalidArgType } = require(path.join(root, 'dist', 'cjs', 'validate.js'));
const { SocketError } = require(path.join(root, 'dist', 'cjs', 'errors.js'));

export function leanApi(raw, maxLingerSeconds = 2 ** 31 - 1) {
  const pendingOut = new Float64Array(3);
  const lingerOut = new Int32Array(2);
  return {
    setLinger(target, onoff, seconds = 0) {
      const handle = resolveHandle(target);
      if (typeof onoff !== 'boolean' && onoff !== 0 && onoff !== 1) throw invalidArgType('onoff', 'of type boolean', onoff);
      validateInteger(seconds, 'seconds', 0, maxLingerSeconds);
      const errno = raw.setLinger(handle, onoff === true || onoff === 1, seconds);
      if (errno !== 0) throw new SocketError('setsockopt', errno);
    },
    getLinger(target) {
      const errno = raw.getLinger(resolveHandle(target), lingerOut);
      if (errno !== 0) throw new SocketError('getsockopt', errno);
      return { onoff: lingerOut[0] === 1, seconds: lingerOut[1] };
    },
    getLingerPacked(target) {
      const packed = raw.getLingerPacked(resolveHandle(target));
      if (packed < 0) throw new SocketError('getsockopt', -packed);
      return { onoff: packed % 2 === 1, seconds: Math.floor(packed / 2) };
    },
    pendingBytes(target) {
      const errno = raw.pendingBytes(resolveHandle(target), pendingOut);
      if (errno !== 0) throw new SocketError(pendingOut[2] === 0 ? 'ioctl' : 'ioctl', errno);
      return { unread: pendingOut[0], unacked: pendingOut[1] < 0 ? null : pendingOut[1] };
    },
  };
}
