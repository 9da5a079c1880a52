// A project: its media (upload by drop or picker, with progress), its renders, its edits,
// and the edit builder.
import { api, upload, pause, GENERATED } from "../api.js";
import { h, replace, progressBar, setProgress, statusBadge, seconds, bytes, when, setTitle, landed, rowOrNotFound } from "../dom.js";
import { editBuilder } from "../editor.js";

export async function projectPage(root, projectId, signal) {
  const project = await rowOrNotFound(root, `/projects/${projectId}`, "project", signal);
  if (!project) return;
  setTitle(project.name);
  const error = h("p", { class: "error", role: "alert" });
  const media = h("ul", { class: "media", id: "media" });
  const renders = h("ul", { class: "renders", id: "renders" });
  const edits = h("ul", { class: "edits", id: "edits" });
  const uploads = h("ul", { class: "uploads", id: "uploads" });
  const builder = editBuilder(project.id);
  // The caller's library (uploaded with the client's video_files) can be used in edits too.
  const { data: library } = await api("GET", "/video-file", { signal });

  let shown = "";
  const refresh = async () => {
    const [{ data: assets }, { data: editList }] = await Promise.all([
      api("GET", `/projects/${projectId}/assets`, { signal }),
      api("GET", `/projects/${projectId}/edits`, { signal })]);
    const pending = assets.some((a) => !a.finished);  // polled faster while any moves
    // Redrawn only when something shown changed: focus and thumbnails stay put meanwhile.
    const now = JSON.stringify([assets.map((a) => [a.id, a.status, a.progress, a.duration, a.error, !!a.thumbnail_url]),
                                editList.map((e) => [e.id, e.status, e.asset_id])]);
    if (now === shown) return pending;
    shown = now;
    const sources = assets.filter((a) => a.asset_type !== GENERATED);
    replace(media, sources.length ? sources.map(mediaItem(refresh, error))
      : h("li", { class: "muted" }, "No media yet: drop video, audio or image files above."));
    const outputs = assets.filter((a) => a.asset_type === GENERATED).reverse();
    replace(renders, outputs.length ? outputs.map(renderItem)
      : h("li", { class: "muted" }, "No renders yet: build an edit below."));
    replace(edits, editList.length ? editList.map(editItem(project.id, builder, error))
      : h("li", { class: "muted" }, "No edits yet."));
    builder.setSources([
      ...sources.filter((a) => a.status === "analyzed")
        .map((a) => ({ id: a.id, name: a.keyname, duration: a.duration, kind: "asset" })),
      ...library.filter((v) => v.status === "analyzed")
        .map((v) => ({ id: v.id, name: v.name, duration: v.duration, kind: "videofile" }))]);
    return pending;
  };

  replace(root,
    h("p", { class: "crumbs" }, h("a", { href: "#/projects" }, "Projects"), " / "),
    h("div", { class: "row" }, h("h1", { class: "grow" }, project.name),
      h("button", { type: "button", class: "danger", onclick: async () => {
        if (!confirm(`Delete the project “${project.name}”, its media and renders? This cannot be undone.`)) return;
        try {
          await api("DELETE", `/projects/${project.id}`);
          location.hash = "#/projects";
        } catch (err) { error.textContent = err.message; }
      } }, "Delete project")),
    project.description ? h("p", { class: "muted" }, project.description) : null,
    error,
    h("section", { "aria-labelledby": "media-h" }, h("h2", { id: "media-h" }, "Media"),
      dropZone(project.id, uploads, () => wake()), uploads, media),
    h("section", { "aria-labelledby": "renders-h" }, h("h2", { id: "renders-h" }, "Renders"), renders),
    h("section", { "aria-labelledby": "edit-h" }, h("h2", { id: "edit-h" }, "New edit"), builder.element),
    h("section", { "aria-labelledby": "edits-h" }, h("h2", { id: "edits-h" }, "Edits"), edits));
  landed(root);

  // While anything is uploading, probing or rendering, the lists follow it closely; an
  // upload's start or end wakes them at once.
  let wake = () => {};
  while (!signal.aborted) {
    let pending = false;
    try { pending = await refresh(); } catch (err) {
      if (signal.aborted) return;
      error.textContent = err.message;
    }
    await new Promise((resolve) => {
      wake = resolve;
      pause(pending ? 1000 : 5000, signal).then(resolve);
    });
  }
}

function dropZone(projectId, uploads, changed) {
  const input = h("input", { type: "file", id: "file-input", multiple: true,
                             accept: "video/*,audio/*,image/*", class: "visually-hidden" });
  const zone = h("div", { class: "drop", id: "drop-zone" },
    h("p", {}, "Drop video, audio or image files here, or "),
    h("label", { for: "file-input", class: "button" }, "choose files"), input);
  const start = (files) => {
    for (const file of files) uploadOne(projectId, file, uploads, changed);
  };
  input.addEventListener("change", () => { start([...input.files]); input.value = ""; });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    start([...e.dataTransfer.files]);
  });
  return zone;
}

// Create the asset, send the bytes with progress, then leave it to the list (probe status).
async function uploadOne(projectId, file, uploads, changed) {
  const bar = progressBar(0, `Uploading ${file.name}`);
  const note = h("span", { class: "small muted" }, "starting…");
  const item = h("li", { class: "card upload" }, h("span", { class: "grow" }, file.name, " ", note), bar);
  uploads.append(item);
  try {
    const { data: asset } = await api("POST", `/projects/${projectId}/asset`, {
      json: { keyname: file.name, upload_method: "file-no-chunk", description: "" } });
    changed();
    await upload(`/assets/${asset.id}/upload`, file, (fraction) => {
      setProgress(bar, fraction);
      note.textContent = `${Math.round(fraction * 100)}% of ${bytes(file.size)}`;
    });
    item.remove();
    changed();
  } catch (err) {
    note.textContent = "";
    item.append(h("p", { class: "error", role: "alert" }, `${file.name} was not uploaded. ${err.message}`));
    item.append(h("button", { type: "button", class: "link", onclick: () => item.remove() }, "Dismiss"));
  }
}

function mediaItem(refresh, error) {
  return (asset) => h("li", { class: "card media-item", dataset: { assetId: asset.id, status: asset.status } },
    asset.thumbnail_url ? h("img", { src: asset.thumbnail_url, alt: "", class: "thumb", loading: "lazy" })
                        : h("div", { class: "thumb none" }, asset.status === "analyzed" ? "no picture" : "…"),
    h("div", { class: "grow" },
      h("span", { class: "title" }, asset.keyname), " ", statusBadge(asset.status),
      h("p", { class: "small muted" }, [asset.duration !== null ? seconds(asset.duration) : null,
        asset.width ? `${asset.width}×${asset.height}` : null, bytes(asset.size)].filter(Boolean).join(" · ")),
      asset.error ? h("p", { class: "error" }, `The file could not be read: ${asset.error}`) : null),
    h("button", { type: "button", class: "link danger", "aria-label": `Delete ${asset.keyname}`,
      onclick: async () => {
        if (!confirm(`Delete “${asset.keyname}”?`)) return;
        try { await api("DELETE", `/assets/${asset.id}`); await refresh(); }
        catch (err) { error.textContent = err.message; }
      } }, "Delete"));
}

function renderItem(asset) {
  return h("li", { class: "card row", dataset: { assetId: asset.id, status: asset.status } },
    h("div", { class: "grow" },
      h("a", { href: `#/renders/${asset.id}`, class: "title" }, asset.keyname), " ", statusBadge(asset.status),
      h("p", { class: "small muted" }, `started ${when(asset.created_at)}`,
        asset.duration ? ` · ${seconds(asset.duration)}` : ""),
      asset.status === "failed" ? h("p", { class: "error small" }, `Failed: ${asset.error || "no reason was given"}`) : null),
    asset.finished ? null : progressBar(asset.progress, `Progress of ${asset.keyname}`));
}

// An edit: its latest render, a new render of it, or its JSON back in the editor.
function editItem(projectId, builder, error) {
  return (edit) => {
    const data = edit.data || {};
    const clips = (data.video_series_sequential || []).length;
    const title = edit.name || data.video_output_filename || "Untitled edit";
    return h("li", { class: "card row" },
      h("div", { class: "grow" },
        h("span", { class: "title" }, title), " ", statusBadge(edit.status),
        h("p", { class: "small muted" }, `${clips} clip${clips === 1 ? "" : "s"} · ${data.video_output_resolution || ""} · ${when(edit.created_at)}`)),
      edit.asset_id ? h("a", { href: `#/renders/${edit.asset_id}` }, "Latest render") : null,
      h("button", { type: "button", class: "secondary", "aria-label": `Open ${title} in the editor`,
        onclick: () => builder.load(data) }, "Open in editor"),
      h("button", { type: "button", "aria-label": `Render ${title} again`, onclick: async () => {
        try {
          const { data: started } = await api("POST", `/projects/${projectId}/edits/${edit.id}/render`);
          location.hash = `#/renders/${started.asset_id}`;
        } catch (err) { error.textContent = err.message; }
      } }, "Render again"));
  };
}
