/**
 * Keep-alive connections to registries, one undici Client each, kept per origin: a request takes an
 * idle one (the one used last, its socket warmest) or opens another, and gives it back when its
 * answer is in. A client sends one request at a time and reconnects by itself when its socket was
 * closed (keep-alive timeout, a reset), so an idle client is always fit to take the next request.
 *
 * Why not undici's Agent: its Pool finds a free connection by walking all of its connections in
 * order, on every request, allocating an iterator result per step. A 300-image watchRepo check
 * keeps some 80 connections busy, and that walk cost more CPU than any other part of herald's own
 * request path (docs/BENCHMARKS.md). Taking the last idle client off a list costs nothing.
 *
 * A client given back before undici has looked at its socket again (it does so on the next turn of
 * the event loop) keeps a request sent to it in its queue until then: no second connection is
 * opened for it.
 */
import type { Client } from 'undici';
import { undiciClient } from '../util/undici.js';

export class Connections {
  private readonly idle = new Map<string, Client[]>();
  private readonly all: Client[] = [];
  private closed = false;

  constructor(private readonly options: Client.Options) {}

  /** A client for `origin` that is sending nothing: the one given back last, or a new one. */
  take(origin: string): Client {
    const client = this.idle.get(origin)?.pop();
    if (client !== undefined) return client;
    const made = new (undiciClient())(origin, this.options);
    this.all.push(made);
    return made;
  }

  /** The client's request is answered (or failed): it takes the next one. */
  giveBack(origin: string, client: Client): void {
    if (this.closed || client.destroyed || client.closed) return;
    const list = this.idle.get(origin);
    if (list === undefined) this.idle.set(origin, [client]);
    else list.push(client);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.idle.clear();
    const all = this.all.splice(0);
    await Promise.all(all.map((c) => c.close().catch(() => undefined)));
  }
}
