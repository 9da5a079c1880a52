// Renders started from the dashboard, remembered for this tab (sessionStorage): a preview's
// edit, so that its page can start the final render of the same edit; and a final's
// preview, so that its page plays the preview while the final renders.
import { api } from "./api.js";

const EDIT = "canopy.preview-edit:";
const PREVIEW = "canopy.preview-of:";

function remember(key, value) {
  try { sessionStorage.setItem(key, JSON.stringify(value)); } catch { /* storage off: forget */ }
}

function recall(key) {
  try { return JSON.parse(sessionStorage.getItem(key)); } catch { return null; }
}

// Start rendering `edit` in the project; a preview is the same edit at half size
// (render_options.preview). Returns the render's asset id (null when the edit skips rendering).
export async function startRender(projectId, edit, preview = false, previewOf = null) {
  const json = preview ? { ...edit, render_options: { ...(edit.render_options || {}), preview: true } } : edit;
  const { data } = await api("POST", `/projects/${projectId}/create-edit`, { json });
  if (!data.asset_id) return null;
  if (preview) remember(EDIT + data.asset_id, { projectId, edit });
  if (previewOf) remember(PREVIEW + data.asset_id, previewOf);
  return data.asset_id;
}

// The edit a preview render was started with from this tab ({projectId, edit}), or null.
export const previewEdit = (assetId) => recall(EDIT + assetId);

// The preview started from this tab before this final render, or null.
export const previewOf = (assetId) => recall(PREVIEW + assetId);
