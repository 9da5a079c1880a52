// Watching one render: status and progress live, cancel, then the player and a download.
// A preview started here offers the final render of its edit; while that final renders,
// its page plays the preview.
import { api, watchAsset, GENERATED } from "../api.js";
import { previewEdit, previewOf, startRender } from "../renders.js";
import { h, replace, progressBar, setProgress, statusBadge, seconds, setTitle, landed, rowOrNotFound } from "../dom.js";

const SAYS = {
  queued: "Waiting for a worker.",
  rendering: "Rendering.",
  uploading: "Storing the video.",
  uploaded: "Done.",
  canceled: "The render was canceled.",
};

export async function renderPage(root, assetId, signal) {
  let asset = await rowOrNotFound(root, `/assets/${assetId}`, "render", signal);
  if (!asset) return;
  setTitle(asset.keyname);
  const badge = h("span", { id: "render-status" }, statusBadge(asset.status));
  const bar = progressBar(asset.progress, "Render progress");
  bar.id = "render-progress";
  const says = h("p", { id: "render-says", "aria-live": "polite" });
  const reused = h("p", { id: "render-reused", class: "muted" });
  const result = h("div", { id: "render-result" });
  const error = h("p", { class: "error", role: "alert" });
  const cancel = h("button", { type: "button", class: "danger", id: "cancel", onclick: async () => {
    cancel.disabled = true;
    says.textContent = "Canceling…";
    try { await api("POST", `/assets/${assetId}/cancel`); }
    catch (err) { error.textContent = err.message; cancel.disabled = false; }
  } }, "Cancel render");
  const started = previewEdit(assetId);
  const final = started && h("button", { type: "button", id: "render-final", onclick: async () => {
    final.disabled = true;
    try {
      const id = await startRender(started.projectId, started.edit, false, assetId);
      if (id) location.hash = `#/renders/${id}`;
    } catch (err) { error.textContent = err.message; final.disabled = false; }
  } }, "Render full size");

  replace(root,
    h("p", { class: "crumbs" }, h("a", { href: "#/projects" }, "Projects"), " / ",
      h("a", { href: `#/projects/${asset.project_id}` }, "Project"), " / "),
    h("h1", {}, asset.keyname), h("div", { class: "card" }, h("div", { class: "row" }, badge, says), bar, reused, error, cancel, final),
    result);
  landed(root);
  const preview = previewOf(assetId);
  if (preview && !asset.finished) showPreview(result, preview, signal).catch(() => {});

  const update = (state) => {
    replace(badge, statusBadge(state.status));
    setProgress(bar, state.status === "uploaded" ? 1 : state.progress);
    const percent = Math.round((state.progress || 0) * 100);
    says.textContent = state.status === "failed"
      ? `The render failed: ${state.error || "no reason was given"}.`
      : state.status === "rendering" ? `Rendering: ${percent}% done.` : SAYS[state.status] || state.status;
    cancel.hidden = state.finished || asset.asset_type !== GENERATED;
    reused.textContent = piecesReused(state.pieces);
  };
  update(asset);
  if (!asset.finished) {
    const last = await watchAsset(assetId, update, signal);
    if (!last || signal.aborted) return;
    if (last.status === "uploaded") ({ data: asset } = await api("GET", `/assets/${assetId}`, { signal }));
    else asset = { ...asset, ...last };
  }
  if (asset.status === "uploaded" && asset.url) {
    replace(result, h("div", { class: "card" },
      h("video", { id: "player", controls: true, preload: "auto", playsinline: true, src: asset.url }),
      h("p", {}, h("a", { href: asset.download_url, id: "download", download: asset.keyname, class: "button" },
        `Download ${asset.keyname}`),
        asset.size ? ` (${(asset.size / 1e6).toFixed(1)} MB${asset.duration ? `, ${seconds(asset.duration)}` : ""})` : "")));
  }
}

// The preview's player in `result` while the final renders (the final's player replaces it).
async function showPreview(result, previewId, signal) {
  let { data: preview } = await api("GET", `/assets/${previewId}`, { signal });
  if (!preview.finished) {
    await watchAsset(previewId, () => {}, signal);
    ({ data: preview } = await api("GET", `/assets/${previewId}`, { signal }));
  }
  if (signal.aborted || preview.status !== "uploaded" || !preview.url || result.firstChild) return;
  replace(result, h("div", { class: "card", id: "preview" }, h("h2", {}, "Preview (half size)"),
    h("p", { class: "muted" }, "The full-size render replaces it when it is done."),
    h("video", { id: "preview-player", controls: true, preload: "auto", playsinline: true, src: preview.url })));
}

// What the render cache saved: how many of the render's pieces were reused, not rendered.
function piecesReused(pieces) {
  if (!pieces) return "";
  const of = `${pieces.reused} of ${pieces.total} piece${pieces.total === 1 ? "" : "s"}`;
  const said = pieces.reused ? `${of} reused from your render cache.` : `${of} reused: every piece rendered.`;
  return pieces.copied ? `${said} ${pieces.copied} frames copied from their sources, not encoded.` : said;
}
