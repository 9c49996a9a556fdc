/**
 * Errors that become HTTP responses: a status and a one-line plain-text body, as Consul answers
 * (clients such as Patroni parse these bodies).
 *
 * @module
 */

/** An error with the HTTP status it answers with. */
export class HttpError extends Error {
  override name = "HttpError";
  /** The HTTP status code. */
  readonly status: number;
  /** Extra response headers, e.g. `Allow` on a 405. */
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/** 400 with `message`. */
export function badRequest(message: string): HttpError {
  return new HttpError(400, message);
}
