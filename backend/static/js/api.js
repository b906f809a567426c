// Talking to the Echo API on this page's own origin: JSON requests, multipart uploads with progress,
// and one error type that always carries a message a person can read.

const NETWORK_MESSAGE = "Cannot reach the Echo server. Check that it is running, then try again.";

// Used only when an error response carries no message of its own (a proxy's HTML page, say).
const STATUS_MESSAGES = {
  400: "The request was not accepted.",
  403: "You may not do that.",
  404: "Not found; it may have been deleted.",
  409: "That conflicts with something that already exists.",
  413: "The file is too large for the server.",
  415: "The file is not audio in a supported format.",
  422: "The audio cannot be used.",
  429: "Too many requests; wait a moment and try again.",
  500: "The server hit an unexpected error.",
  502: "The voice provider failed to handle the request.",
  503: "A service the server needs is unavailable; try again shortly.",
  504: "The voice provider did not answer in time.",
};

export class ApiError extends Error {
  constructor(status, code, message, body = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

// "in 47 minutes", "in about an hour", "after 30 seconds", "tomorrow", "in a moment": the message says when.
const SAYS_WHEN =
  /\b(in|after|within|for)\s+(about\s+|around\s+|another\s+)?(\d+|an?|one|a few|a couple of)\s+(seconds?|minutes?|hours?|days?)\b|\b(in a moment|shortly|tomorrow)\b/i;

export function saysWhen(message) {
  return SAYS_WHEN.test(message);
}

export function errorFrom(status, body, retryAfter = null) {
  let message =
    (body && typeof body.message === "string" && body.message) ||
    STATUS_MESSAGES[status] ||
    `The server answered with status ${status}.`;
  const code = (body && typeof body.error === "string" && body.error) || `http_${status}`;
  // A 429 says how long to wait: the server's message usually says so in words ("You can clone another
  // voice in 47 minutes."), shown as it is; only a message that does not say when gets our own.
  const fromBody = body && Number.isFinite(body.retry_after) ? body.retry_after : null;
  const wait = Number.parseInt(retryAfter || "", 10) || (fromBody ? Math.ceil(fromBody) : 0);
  if (status === 429 && wait > 0 && !saysWhen(message)) {
    message += ` Try again in ${wait} second${wait === 1 ? "" : "s"}.`;
  }
  const error = new ApiError(status, code, message, body);
  if (wait > 0) error.retryAfter = wait;
  return error;
}

/** A readable message for anything thrown while talking to the server. */
export function messageOf(error) {
  if (error instanceof ApiError) return error.message;
  return "Something went wrong in the page: " + (error && error.message ? error.message : String(error));
}

// The identity decides who is calling: it adds its parameters (local mode: user_id) and headers
// (a sign-in step would add Authorization) to every request. See identity.js.
let identity = null;

export function useIdentity(value) {
  identity = value;
}

function identityParams(anonymous) {
  return !anonymous && identity ? identity.params() : {};
}

function identityHeaders(anonymous) {
  return !anonymous && identity ? identity.headers() : {};
}

function buildUrl(path, query) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
  }
  return url;
}

function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * One JSON request. GET and DELETE carry the identity in the query string, the others in the JSON body.
 * Resolves with the parsed body; rejects with an ApiError.
 */
export async function request(method, path, { query, json, anonymous = false } = {}) {
  const verb = method.toUpperCase();
  const params = identityParams(anonymous);
  const inQuery = verb === "GET" || verb === "DELETE";
  const url = buildUrl(path, inQuery ? { ...query, ...params } : query);
  const headers = { Accept: "application/json", ...identityHeaders(anonymous) };
  let body;
  if (!inQuery) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify({ ...(json || {}), ...params });
  }
  let response;
  try {
    response = await fetch(url, { method: verb, headers, body, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "network_error", NETWORK_MESSAGE);
  }
  const data = parseJson(await response.text().catch(() => ""));
  if (!response.ok) throw errorFrom(response.status, data, response.headers.get("Retry-After"));
  return data || {};
}

/** One Server-Sent Event's block of lines as {event, data}; data is parsed JSON (null if it is not). */
function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return { event, data: parseJson(data.join("\n")) };
}

/**
 * POST JSON and read the answer as Server-Sent Events (EventSource cannot POST): `onEvent(name, data)` for
 * each event as it arrives. Resolves once the stream ends; rejects with an ApiError for an error answer, an
 * `error` event (its status, code and plain message), a stream cut short (code "cut_short") or
 * `signal` aborting it (code "aborted").
 */
export async function postForEvents(path, json, { signal, onEvent }) {
  const params = identityParams(false);
  const headers = { Accept: "text/event-stream", "Content-Type": "application/json", ...identityHeaders(false) };
  const body = JSON.stringify({ ...(json || {}), ...params });
  const aborted = () => new ApiError(0, "aborted", "Stopped.");
  let response;
  try {
    response = await fetch(buildUrl(path), { method: "POST", headers, body, signal, credentials: "same-origin" });
  } catch {
    throw signal && signal.aborted ? aborted() : new ApiError(0, "network_error", NETWORK_MESSAGE);
  }
  if (!response.ok || !response.body) {
    const data = parseJson(await response.text().catch(() => ""));
    throw errorFrom(response.status, data, response.headers.get("Retry-After"));
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
        const { event, data } = parseEvent(block);
        if (event === "error") throw errorFrom((data && data.status) || 502, data);
        onEvent(event, data || {});
      }
    }
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw signal && signal.aborted ? aborted() : cutShort();
  } finally {
    reader.cancel().catch(() => {}); // nothing more is read: let the server know
  }
}

/** What a stream that ended before its last event means, in plain words. */
export function cutShort() {
  return new ApiError(0, "cut_short", "The connection to the server closed before the reply was finished.");
}

export const api = {
  get: (path, query) => request("GET", path, { query }),
  post: (path, json) => request("POST", path, { json }),
  patch: (path, json) => request("PATCH", path, { json }),
  del: (path, query) => request("DELETE", path, { query }),
};

/**
 * A multipart upload through XMLHttpRequest, for its upload progress events.
 * onProgress(fraction 0..1 or null when unknown); onSent() once every byte is on its way and the server is working.
 */
export function upload(path, formData, { onProgress, onSent } = {}) {
  for (const [key, value] of Object.entries(identityParams(false))) formData.set(key, value);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", buildUrl(path));
    xhr.setRequestHeader("Accept", "application/json");
    for (const [key, value] of Object.entries(identityHeaders(false))) xhr.setRequestHeader(key, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (onProgress) onProgress(event.lengthComputable ? event.loaded / event.total : null);
    });
    xhr.upload.addEventListener("load", () => onSent && onSent());
    xhr.addEventListener("load", () => {
      const data = parseJson(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300) resolve(data || {});
      else reject(errorFrom(xhr.status, data));
    });
    xhr.addEventListener("error", () =>
      reject(
        new ApiError(
          0,
          "network_error",
          "The upload did not reach the server. The connection closed early; if the file is large, " +
            "try a shorter recording.",
        ),
      ),
    );
    xhr.addEventListener("timeout", () => reject(new ApiError(0, "timeout", "The upload took too long; try again.")));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "aborted", "The upload was cancelled.")));
    xhr.send(formData);
  });
}
