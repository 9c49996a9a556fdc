/**
 * Helpers shared by the check runners in this folder: bounded output text and error messages.
 * Private to `src/agent/checks`.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Decodes UTF-8 `bytes`, first cutting them to `bytesMax` and dropping a character left
 * incomplete at the end, so no U+FFFD appears where a cut fell.
 */
export function decodeOutput(bytes: Uint8Array, bytesMax: number): string {
  let end = Math.min(bytes.length, Math.max(0, bytesMax));
  // Find the first byte of the last character: back over continuation bytes (10xxxxxx), at most
  // 3 of them since UTF-8 characters are at most 4 bytes long.
  let lead = end - 1;
  while (lead >= 0 && lead > end - 4 && (bytes[lead] & 0xc0) === 0x80) lead -= 1;
  if (lead >= 0 && bytes[lead] >= 0xc0) {
    const length = bytes[lead] >= 0xf0 ? 4 : bytes[lead] >= 0xe0 ? 3 : 2;
    if (end - lead < length) end = lead;
  }
  return decoder.decode(bytes.subarray(0, end));
}

/** Returns `text` cut to at most `bytesMax` UTF-8 bytes (at a character boundary). */
export function cutText(text: string, bytesMax: number): { text: string; totalBytes: number } {
  // A UTF-16 unit takes at most 3 UTF-8 bytes: only encode when the text may be too long.
  if (text.length * 3 <= bytesMax) return { text, totalBytes: encoder.encode(text).length };
  const bytes = encoder.encode(text);
  if (bytes.length <= bytesMax) return { text, totalBytes: bytes.length };
  return { text: decodeOutput(bytes, bytesMax), totalBytes: bytes.length };
}

/** The message of a thrown value, plus its cause's (where fetch and dial keep the reason). */
export function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  let message = error.message || error.name;
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error && cause.message && !message.includes(cause.message)) {
    message += `: ${cause.message}`;
  } else if (typeof cause === "string" && cause !== "" && !message.includes(cause)) {
    message += `: ${cause}`;
  }
  return message.replaceAll(/\s+/g, " ").trim();
}

/** Reason phrases of the usual status codes, for when a response carries none (HTTP/2). */
const REASON_PHRASES: Readonly<Record<number, string>> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** `"200 OK"`, as Go's `Response.Status`. */
export function statusLine(status: number, statusText: string): string {
  const reason = statusText || REASON_PHRASES[status] || "";
  return reason === "" ? String(status) : `${status} ${reason}`;
}
