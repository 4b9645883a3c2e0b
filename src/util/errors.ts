/**
 * Errors a user can cause (bad config, unreachable registry, bad credentials, unknown image) are
 * values of UserError: their message is one line meant for the user, and the CLI prints it without
 * a stack trace. Anything else that escapes is a bug and keeps its stack.
 */
export class UserError extends Error {
  /** Process exit code the CLI uses when this error ends a command. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}

/** A config file or environment override that cannot be loaded. Always exit code 2. */
export class ConfigError extends UserError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'ConfigError';
  }
}

/** A CLI usage problem (bad argument). Exit code 2. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

/**
 * A registry request that failed in a way worth reporting per image (network, auth, 404, bad
 * response). `status` is the HTTP status when there was one. `retryable` tells the retry loop
 * whether another attempt could succeed.
 */
export class RegistryError extends UserError {
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, opts: { status?: number; retryable?: boolean; retryAfterMs?: number } = {}) {
    super(message, 1);
    this.name = 'RegistryError';
    this.status = opts.status;
    this.retryable = opts.retryable ?? false;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
