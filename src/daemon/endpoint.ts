/**
 * serve's HTTP server as the daemon holds it: opened at start when server.listen is set, moved when
 * a reload changes the address, closed first thing at stop.
 */
import { ConfigError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { ListenError, startServer, type HeraldServer, type ServerContext } from '../server/http.js';

export class HttpEndpoint {
  private server: HeraldServer | undefined;

  constructor(
    private readonly context: ServerContext,
    private readonly logger: Logger,
  ) {}

  /** host:port actually bound, while it listens. */
  get address(): string | undefined {
    return this.server?.address;
  }

  /** Listens on `address` (nothing when undefined). An address it cannot listen on is the config's fault: ConfigError, exit 2. */
  async open(address: string | undefined): Promise<void> {
    this.server = await listen(address, this.context);
  }

  /**
   * Moves the server from `before` to `after`: the old socket is closed, then the new one opened (both
   * may use the same port on different addresses). If the new one cannot be opened, the old one is
   * opened again and the error thrown, so the reload is rejected. A token change needs nothing: the
   * token is read per request.
   */
  async move(before: string | undefined, after: string | undefined): Promise<void> {
    if (before === after) return;
    await this.close();
    try {
      await this.open(after);
    } catch (err) {
      this.server = await listen(before, this.context).catch((again: unknown) => {
        this.logger.error(`HTTP server stays off until a reload or restart: ${errorMessage(again)}`);
        return undefined;
      });
      throw err;
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }
}

async function listen(address: string | undefined, ctx: ServerContext): Promise<HeraldServer | undefined> {
  if (address === undefined) return undefined;
  try {
    return await startServer(address, ctx);
  } catch (err) {
    if (err instanceof ListenError) throw new ConfigError(err.message);
    throw err;
  }
}
