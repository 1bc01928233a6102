// The same library, which also lets its user name the addon (for packagers).
export { resetPeer } from './index.mjs';
export { setNativeBinding } from 'net-linger';
