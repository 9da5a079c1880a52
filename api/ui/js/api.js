// Talking to the Canopy API: the key lives in sessionStorage (this tab only, gone when it
// closes) and travels only in the Authorization header, never in a URL.

const KEY = "canopy.key";

// The asset_type of a render's output (shared.models.GENERATED_VIDEO).
export const GENERATED = "generated_video";

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  signIn(key) { sessionStorage.setItem(KEY, key); },
  signOut() { sessionStorage.removeItem(KEY); },
};

export class ApiError extends Error {
  constructor(status, detail) {
    super(sentence(status, detail));
    this.status = status;
    this.detail = detail;
  }
  // The field errors of a 422: [{loc: [...], msg}]; empty for other answers.
  get fieldErrors() {
    return this.status === 422 && Array.isArray(this.detail) ? this.detail : [];
  }
}

const NETWORK = "Canopy could not be reached. Check your connection, then try again.";

function authHeaders(key = session.key) {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

// A 401 means the key stopped working: forget it, and the router shows the sign-in page.
function signedOut(status) {
  if (status === 401 && session.key) {
    session.signOut();
    window.dispatchEvent(new Event("canopy:signed-out"));
  }
}

export async function api(method, path, { json, key, signal } = {}) {
  const headers = { Accept: "application/json", ...authHeaders(key) };
  if (json !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, signal,
                                   body: json === undefined ? undefined : JSON.stringify(json) });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new Error(NETWORK);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    if (key === undefined) signedOut(response.status);
    throw new ApiError(response.status, data && data.detail);
  }
  return { data, headers: response.headers };
}

// Upload a file as the multipart field `file`, reporting progress 0..1 as it is sent.
export function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener("load", () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { data = null; }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(data);
      signedOut(xhr.status);
      reject(new ApiError(xhr.status, data && data.detail));
    });
    xhr.addEventListener("error", () => reject(new Error(NETWORK)));
    const body = new FormData();
    body.append("file", file, file.name);
    xhr.send(body);
  });
}

// Follow an asset's status until it ends (its `finished` says so), calling
// onStatus({status, finished, progress, error, ...}).
// The events stream is used when the server has one (fetch, so the key stays in a header);
// otherwise, or when a stream drops before the end, the status is polled.
export async function watchAsset(assetId, onStatus, signal) {
  let last = null;
  const report = (state) => { last = state; onStatus(state); };
  const streamed = await followEvents(assetId, report, signal).catch((err) => {
    if (err.name === "AbortError") throw err;
    return false;
  });
  if (streamed && last && last.finished) return last;
  while (!signal.aborted) {
    const { data } = await api("GET", `/assets/${assetId}/status`, { signal });
    report(data);
    if (data.finished) return data;
    await pause(500, signal);
  }
  return last;
}

async function followEvents(assetId, report, signal) {
  const response = await fetch(`/assets/${assetId}/events`, {
    headers: { Accept: "text/event-stream", ...authHeaders() }, signal,
  });
  const type = response.headers.get("Content-Type") || "";
  if (!response.ok || !type.startsWith("text/event-stream") || !response.body) {
    response.body && response.body.cancel();
    return false;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return true;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const state = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (state) {
        report(state);
        if (state.finished) { reader.cancel(); return true; }
      }
    }
  }
}

// One server-sent event's `data:` lines, joined, as JSON with a `status`; else null.
function parseEvent(block) {
  const data = block.split("\n").filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).replace(/^ /, "")).join("\n");
  try {
    const state = JSON.parse(data);
    return state && typeof state.status === "string" ? state : null;
  } catch { return null; }
}

export function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal && signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); },
                                       { once: true });
  });
}

// --- Errors in plain sentences -----------------------------------------------------------

const LABELS = {
  video_series_sequential: "Clip", audio_overlay: "Music track", audio_levels: "level",
  video_id: "source", audio_id: "track", type: "type", video_start_time: "start",
  video_end_time: "end", audio_start_time: "start", audio_end_time: "end",
  source_start_time: "source start", audio_level: "level", start_time: "start",
  end_time: "end", video_output_format: "Output format", video_output_resolution: "Resolution",
  video_output_fps: "Frame rate", video_output_filename: "File name", name: "Name",
  description: "Description", video_edit_version: "Edit version", render_options: "Render options",
  file: "File", keyname: "Name", crop: "crop", zoom: "zoom",
};

// ["body", "video_series_sequential", 0, "video_end_time"] -> "Clip 1 end"
export function fieldLabel(loc) {
  const parts = [];
  for (const part of loc.slice(loc[0] === "body" || loc[0] === "query" ? 1 : 0)) {
    if (typeof part === "number") parts.push(String(part + 1));
    else parts.push(LABELS[part] || part.replaceAll("_", " "));
  }
  const text = parts.join(" ");
  return text ? text[0].toUpperCase() + text.slice(1) : "The request";
}

export function plainMessage(msg) {
  let text = String(msg || "is not valid").replace(/^(Value error|Assertion failed), /, "");
  text = text[0].toLowerCase() + text.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function sentence(status, detail) {
  if (status === 422 && Array.isArray(detail) && detail.length) {
    return detail.map((e) => `${fieldLabel(e.loc || [])}: ${plainMessage(e.msg)}`).join(" ");
  }
  const said = typeof detail === "string" && detail !== "Not Found" ? detail : null;
  switch (status) {
    case 401: return "Your API key was not accepted. Sign in again with a valid key.";
    case 404: return "This was not found. It may have been deleted, or it belongs to another account.";
    case 413: return said ? `The file is too large: ${said}.` : "The file is too large for this server.";
    case 500: case 502: case 503: case 504:
      return "Something went wrong on the server. Try again in a moment.";
    default:
      return said ? `${said[0].toUpperCase()}${said.slice(1)}${/[.!?]$/.test(said) ? "" : "."}`
                  : `The server refused the request (error ${status}).`;
  }
}
