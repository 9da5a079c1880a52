// Watching one render: status and progress live, cancel, then the player and a download.
import { api, watchAsset } from "../api.js";
import { h, replace, progressBar, setProgress, statusBadge, seconds, setTitle, landed } from "../dom.js";

const SAYS = {
  queued: "Waiting for a worker.",
  rendering: "Rendering.",
  uploading: "Storing the video.",
  uploaded: "Done.",
  canceled: "The render was canceled.",
};

export async function renderPage(root, assetId, signal) {
  let asset;
  try {
    ({ data: asset } = await api("GET", `/assets/${assetId}`, { signal }));
  } catch (err) {
    if (err.status !== 404) throw err;
    setTitle("Render not found");
    replace(root, h("h1", {}, "Render not found"),
      h("p", { class: "error", role: "alert" }, "This render does not exist, or it belongs to another account."),
      h("p", {}, h("a", { href: "#/projects" }, "Back to your projects")));
    return;
  }
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

  replace(root,
    h("p", { class: "crumbs" }, h("a", { href: "#/projects" }, "Projects"), " / ",
      h("a", { href: `#/projects/${asset.project_id}` }, "Project"), " / "),
    h("h1", {}, asset.keyname), h("div", { class: "card" }, h("div", { class: "row" }, badge, says), bar, reused, error, cancel),
    result);
  landed(root);

  const update = (state) => {
    replace(badge, statusBadge(state.status));
    setProgress(bar, state.status === "uploaded" ? 1 : state.progress);
    const percent = Math.round((state.progress || 0) * 100);
    says.textContent = state.status === "failed"
      ? `The render failed: ${state.error || "no reason was given"}.`
      : state.status === "rendering" ? `Rendering: ${percent}% done.` : SAYS[state.status] || state.status;
    cancel.hidden = state.finished || asset.asset_type !== "generated_video";
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

// What the render cache saved: how many of the render's pieces were reused, not rendered.
function piecesReused(pieces) {
  if (!pieces) return "";
  const of = `${pieces.reused} of ${pieces.total} piece${pieces.total === 1 ? "" : "s"}`;
  return pieces.reused ? `${of} reused from your render cache.` : `${of} reused: every piece rendered.`;
}
