// One side of an off-loopback row (src/lab/netns.ts), run inside its network namespace by
// `ip netns exec`. It owns that side's socket and plays that side's steps when told to, over
// Node's IPC channel; replies are { id, value } or { id, error, code }.
import net from 'node:net';
import { resolveHandle } from '../core/handle.js';
import { Side, runSideStep, settlePeer, settledState, type CloserState } from './steps.js';
import { tcpState } from './runner.js';
import type { Step } from './scenarios.js';

type Request = { id: number; op: string } & Record<string, unknown>;

const role = process.argv[2] === 'peer' ? 'peer' : 'closer';
let side: Side | undefined;
let server: net.Server | undefined;
let accepted: Promise<net.Socket> | undefined;
let ports: { local: number; remote: number } | undefined;
let state: CloserState = { blockedMs: null };

function current(): Side {
  if (!side) throw new Error(`the ${role} has no connection`);
  return side;
}

async function handle(request: Request): Promise<unknown> {
  switch (request.op) {
    case 'ready':
      return { pid: process.pid };
    case 'listen': {
      // The closer is the accepted side, paused so it reads nothing unasked (as on loopback).
      server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
      const listener = server;
      accepted = new Promise((resolve) => listener.once('connection', resolve));
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(0, String(request.host), () => resolve());
      });
      return { port: (listener.address() as net.AddressInfo).port };
    }
    case 'accept': {
      if (!accepted) throw new Error('the closer is not listening');
      const socket = await accepted;
      server?.close();
      side = new Side(socket);
      ports = { local: socket.localPort!, remote: socket.remotePort! };
      // A runtime that cannot give the closer's descriptor refuses here, before any step.
      resolveHandle(socket);
      return ports;
    }
    case 'connect': {
      const readBuffer = typeof request.peerReadBuffer === 'number' ? request.peerReadBuffer : undefined;
      let peer: Side | undefined;
      const onread = readBuffer === undefined ? undefined : {
        buffer: Buffer.alloc(readBuffer),
        callback: (bytes: number) => { peer!.received += bytes; return true; },
      };
      const client = net.connect({ host: String(request.host), port: Number(request.port), allowHalfOpen: true, ...(onread ? { onread } : {}) });
      peer = new Side(client);
      side = peer;
      await new Promise<void>((resolve, reject) => {
        client.once('connect', resolve);
        client.once('error', reject);
      });
      return {};
    }
    case 'step':
      await runSideStep(request.step as Step, current(), Number(request.timeoutMs), state);
      return {};
    case 'settle':
      if (role === 'peer') await settlePeer(current(), Number(request.timeoutMs));
      return {};
    case 'observe': {
      const observed = current().observe();
      if (role === 'peer') return observed;
      const closerState = ports ? await settledState(ports, Number(request.waitAckMs)) : null;
      return {
        ...observed,
        state: closerState,
        timeWait: closerState === null ? null : closerState === 'TIME_WAIT',
        closeBlockedMs: state.blockedMs,
        ...(state.report ? { report: state.report } : {}),
      };
    }
    case 'tcp-state':
      return ports ? tcpState(ports.local, ports.remote) : null;
    case 'clear':
      side?.socket.destroy();
      server?.close();
      side = undefined;
      server = undefined;
      accepted = undefined;
      ports = undefined;
      state = { blockedMs: null };
      return {};
    default:
      throw new Error(`unknown request ${request.op}`);
  }
}

process.on('message', (request: Request) => {
  handle(request).then(
    (value) => process.send?.({ id: request.id, value }),
    (err: NodeJS.ErrnoException) => process.send?.({ id: request.id, error: err.message, code: err.code }),
  );
});
// The lab that started this side is gone: so is the side.
process.on('disconnect', () => process.exit(0));
