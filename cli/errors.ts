/**
 * Errors meant for the user: one line each, an exit code and a stable code for `--json`.
 * Exit codes (README "Exit codes"): 0 ok, 1 failure, 2 usage or invalid input.
 */
export class CliError extends Error {
  readonly exitCode: number;
  /** Machine-readable, in `{"ok":false,"error":{"code":..}}` under --json. */
  readonly code: string;
  constructor(message: string, exitCode = 1, code = "failed") {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
    this.code = code;
  }
}

/** Wrong arguments (unknown option, missing value, too many arguments): exit 2 and a hint to `--help`. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2, "usage");
    this.name = "UsageError";
  }
}

/** Arguments or the files they name are well-formed but invalid (a range, a KV limit, a schema rule): exit 2. */
export class InputError extends CliError {
  constructor(message: string) {
    super(message, 2, "invalid_input");
    this.name = "InputError";
  }
}

/** A destructive command without confirmation (no terminal and no --yes): exit 2, nothing changed. */
export class ConfirmationError extends CliError {
  constructor(message: string) {
    super(message, 2, "confirmation_required");
    this.name = "ConfirmationError";
  }
}
