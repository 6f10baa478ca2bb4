/**
 * A cap on the TCP connections the collector's HTTP server holds, so a client that opens sockets
 * and never closes them (a leak in some SDK, a flood) cannot exhaust the process's file descriptors.
 *
 * At the cap, a new connection takes the place of the longest-idle one that has no request in
 * progress: a socket that is still trickling its first request's headers or idling between
 * keep-alive requests is the cheapest to lose (its client reconnects), and serving the newcomer keeps
 * the health check and real senders working during a flood. Only when every socket is busy
 * (requests in progress or upgraded WebSockets) is the newcomer refused.
 */
import type * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Counters } from '../counters';

export class SocketGuard {
  private readonly all = new Set<Socket>();
  /** Sockets with no request in progress, longest idle first (a Set keeps insertion order). */
  private readonly idle = new Set<Socket>();
  private readonly inFlight = new WeakMap<Socket, number>();
  private peak = 0;

  constructor(
    server: http.Server,
    private readonly max: number,
    private readonly counters: Counters,
  ) {
    server.on('connection', (socket: Socket) => this.onConnection(socket));
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.onRequest(req.socket, res));
    // An upgraded socket belongs to the WebSocket side from now on, which has its own cap.
    server.on('upgrade', (req: http.IncomingMessage) => this.idle.delete(req.socket));
  }

  get size(): number {
    return this.all.size;
  }

  /** The most sockets held at once since start. */
  get highWater(): number {
    return this.peak;
  }

  private onConnection(socket: Socket): void {
    if (this.all.size >= this.max) {
      const victim = this.idle.values().next().value as Socket | undefined;
      if (victim) {
        this.forget(victim);
        victim.destroy();
        this.counters.inc('http.evicted.idle');
      } else {
        socket.destroy();
        this.counters.inc('http.rejected.connections');
        return;
      }
    }
    this.all.add(socket);
    this.idle.add(socket);
    this.peak = Math.max(this.peak, this.all.size);
    socket.once('close', () => this.forget(socket));
  }

  private onRequest(socket: Socket, res: http.ServerResponse): void {
    if (!this.all.has(socket)) return;
    this.idle.delete(socket);
    this.inFlight.set(socket, (this.inFlight.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const n = (this.inFlight.get(socket) ?? 1) - 1;
      this.inFlight.set(socket, n);
      // Re-inserting moves it to the end: the idle set stays ordered by when each went idle.
      if (n === 0 && this.all.has(socket) && !socket.destroyed) this.idle.add(socket);
    });
  }

  private forget(socket: Socket): void {
    this.all.delete(socket);
    this.idle.delete(socket);
  }
}
