/** One way to show any thrown value: what Herald logs, stores in dead letters and reports. */

/** `Name: message` for an Error, the value as text otherwise. */
export function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** The message of an Error, the value as text otherwise. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The value itself when it is an Error, else an Error carrying it as text. */
export function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
