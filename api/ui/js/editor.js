// The edit builder: a form for the simple edit (clips with trims and levels, one music
// track, the output) and a JSON editor for the whole edit. The API's 422 errors are shown
// next to the field their `loc` names (in the form) or at their line (in the JSON).
import { api, ApiError, fieldLabel, plainMessage } from "./api.js";
import { h, replace, seconds } from "./dom.js";
import { startRender } from "./renders.js";

const RESOLUTIONS = ["1920x1080", "1280x720", "854x480", "640x360", "320x180", "1080x1920", "720x1280", "1080x1080"];
const RATES = ["23.976", "24", "25", "29.97", "30", "50", "60"];
// What the form shows; other keys of an edit are kept only by the JSON editor.
const FORM_KEYS = ["video_edit_version", "video_output_format", "video_output_resolution", "video_output_fps",
  "video_output_filename", "video_series_sequential", "audio_overlay", "name", "description"];

export function editBuilder(projectId) {
  let sources = [];
  let clips = [{ id: "", start: "0", end: "", level: "1" }];
  const output = { filename: "output.mp4", format: "mp4", resolution: "1280x720", fps: "30" };
  const music = { id: "", level: "0.5", start: "0" };
  let mode = "form";

  const summary = h("div", { class: "error", role: "alert", id: "edit-errors" });
  const clipList = h("ol", { class: "clips", id: "clips" });
  const musicBox = h("div", { class: "fields" });
  const outputBox = h("div", { class: "fields" });
  const json = h("textarea", { id: "edit-json", rows: 18, spellcheck: "false", "aria-describedby": "json-errors",
                               "aria-label": "The edit as JSON" });
  const jsonErrors = h("ul", { id: "json-errors", class: "error" });
  const jsonNote = h("p", { class: "hint" });
  const submit = h("button", { type: "submit", id: "render-button" }, "Render");
  // The same edit at half size (render_options.preview), quick to look at before the final.
  const preview = h("button", { type: "button", class: "secondary", id: "preview-button",
                                onclick: (event) => send(event, true) }, "Preview");
  const formPane = h("div", { id: "form-pane" },
    h("fieldset", {}, h("legend", {}, "Clips, in order"), clipList,
      h("button", { type: "button", class: "secondary", id: "add-clip", onclick: () => {
        readForm(); clips.push({ id: sources[0] ? sources[0].id : "", start: "0", end: "", level: "1" }); drawClips();
        clipList.lastChild.querySelector("select").focus();
      } }, "Add a clip")),
    h("fieldset", {}, h("legend", {}, "Music"), musicBox),
    h("fieldset", {}, h("legend", {}, "Output"), outputBox));
  const jsonPane = h("div", { id: "json-pane", hidden: true },
    h("label", { for: "edit-json" }, "Edit JSON (video_edit_version 1.0)"), json, jsonNote, jsonErrors);
  const tabs = h("div", { class: "tabs", role: "group", "aria-label": "Editor" },
    h("button", { type: "button", id: "tab-form", "aria-pressed": "true", onclick: () => show("form") }, "Form"),
    h("button", { type: "button", id: "tab-json", "aria-pressed": "false", onclick: () => show("json") }, "JSON"));
  const form = h("form", { class: "card editor", id: "edit-form", novalidate: true, onsubmit: send },
    tabs, summary, formPane, jsonPane, h("div", { class: "actions" }, submit, preview));

  // A labelled input whose errors are shown right after it; `loc` is the API's field path.
  function field(label, loc, input, hint) {
    const id = `f-${loc.replaceAll(".", "-")}`;
    input.id = id;
    input.dataset.loc = loc;
    input.setAttribute("aria-describedby", `${id}-error`);
    return h("div", { class: "field" }, h("label", { for: id }, label), input,
             hint ? h("span", { class: "hint" }, hint) : null,
             h("span", { class: "field-error", id: `${id}-error` }));
  }

  // The project's media first, then the caller's library (video files), each in a group.
  function sourceSelect(selected, audio) {
    const usable = sources.filter((s) => !audio || s.duration !== null);
    const group = (kind, label) => {
      const mine = usable.filter((s) => s.kind === kind);
      return mine.length ? h("optgroup", { label }, mine.map((s) =>
        h("option", { value: s.id, selected: s.id === selected },
          `${s.name}${s.duration !== null ? ` (${seconds(s.duration)})` : ""}`))) : null;
    };
    const select = h("select", {}, audio ? h("option", { value: "" }, "No music") : null,
                     group("asset", "This project"), group("videofile", "Library"));
    if (!audio && !sources.length) select.append(h("option", { value: "" }, "Upload media first"));
    return select;
  }

  function drawClips() {
    replace(clipList, clips.map((clip, i) => {
      const at = `video_series_sequential.${i}`;
      const move = (delta) => () => {
        readForm();
        const j = i + delta;
        if (j < 0 || j >= clips.length) return;
        [clips[i], clips[j]] = [clips[j], clips[i]];
        drawClips();
      };
      return h("li", { class: "clip" },
        field(`Clip ${i + 1} source`, `${at}.video_id`, sourceSelect(clip.id, false)),
        field("Start", `${at}.video_start_time`, h("input", { value: clip.start, inputmode: "decimal", size: 8 }), "seconds or mm:ss"),
        field("End", `${at}.video_end_time`, h("input", { value: clip.end, inputmode: "decimal", size: 8, placeholder: "source end" })),
        field("Level", `${at}.audio_levels.0.audio_level`, h("input", { value: clip.level, type: "number", step: "0.05", min: 0, max: 2 }), "0–2, 1 = as recorded"),
        h("div", { class: "clip-actions" },
          h("button", { type: "button", class: "secondary", "aria-label": `Move clip ${i + 1} up`, disabled: i === 0, onclick: move(-1) }, "↑"),
          h("button", { type: "button", class: "secondary", "aria-label": `Move clip ${i + 1} down`, disabled: i === clips.length - 1, onclick: move(1) }, "↓"),
          h("button", { type: "button", class: "secondary", "aria-label": `Remove clip ${i + 1}`, disabled: clips.length === 1,
            onclick: () => { readForm(); clips.splice(i, 1); drawClips(); } }, "Remove")));
    }));
  }

  function drawRest() {
    replace(musicBox,
      field("Track", "audio_overlay.0.audio_id", sourceSelect(music.id, true)),
      field("Level", "audio_overlay.0.audio_levels.0.audio_level", h("input", { value: music.level, type: "number", step: "0.05", min: 0, max: 2 })),
      field("Starts at", "audio_overlay.0.audio_start_time", h("input", { value: music.start, inputmode: "decimal", size: 8 }), "seconds into the output"));
    const format = h("select", {}, ["mp4", "mov", "webm"].map((f) => h("option", { value: f, selected: f === output.format }, f)));
    replace(outputBox,
      field("File name", "video_output_filename", h("input", { value: output.filename, maxlength: 200 })),
      field("Format", "video_output_format", format),
      field("Resolution", "video_output_resolution", h("input", { value: output.resolution, list: "resolutions", size: 11 }), "width×height"),
      field("Frame rate", "video_output_fps", h("input", { value: output.fps, list: "rates", inputmode: "decimal", size: 6 }), "frames per second"),
      h("datalist", { id: "resolutions" }, RESOLUTIONS.map((r) => h("option", { value: r }))),
      h("datalist", { id: "rates" }, RATES.map((r) => h("option", { value: r }))));
  }

  const value = (loc) => formPane.querySelector(`[data-loc="${loc}"]`).value.trim();

  function readForm() {
    clips = clips.map((_, i) => {
      const at = `video_series_sequential.${i}`;
      return { id: value(`${at}.video_id`), start: value(`${at}.video_start_time`),
               end: value(`${at}.video_end_time`), level: value(`${at}.audio_levels.0.audio_level`) };
    });
    Object.assign(music, { id: value("audio_overlay.0.audio_id"), level: value("audio_overlay.0.audio_levels.0.audio_level"),
                           start: value("audio_overlay.0.audio_start_time") });
    Object.assign(output, { filename: value("video_output_filename"), format: value("video_output_format"),
                            resolution: value("video_output_resolution"), fps: value("video_output_fps") });
  }

  const kindOf = (id) => (sources.find((s) => s.id === id) || { kind: "asset" }).kind;

  // Numbers go as numbers; anything else as typed, so that the API names what is wrong.
  const number = (text) => (text !== "" && Number.isFinite(Number(text)) ? Number(text) : text);

  function formEdit() {
    readForm();
    return {
      video_edit_version: "1.0",
      video_output_format: output.format,
      video_output_resolution: output.resolution.replace("×", "x"),
      video_output_fps: number(output.fps),
      video_output_filename: output.filename,
      video_series_sequential: clips.map((c) => ({
        video_id: c.id, type: kindOf(c.id), video_start_time: c.start === "" ? 0 : number(c.start),
        ...(c.end === "" ? {} : { video_end_time: number(c.end) }),
        audio_levels: [{ audio_level: number(c.level) }],
      })),
      audio_overlay: music.id ? [{ audio_id: music.id, type: "music", audio_start_time: number(music.start || "0"),
                                   audio_levels: [{ audio_level: number(music.level) }] }] : [],
    };
  }

  function loadForm(edit) {
    const level = (item) => String(((item.audio_levels || [])[0] || {}).audio_level ?? "1");
    clips = (edit.video_series_sequential || []).map((c) => ({
      id: c.video_id || "", start: String(c.video_start_time ?? "0"), end: c.video_end_time == null ? "" : String(c.video_end_time), level: level(c) }));
    if (!clips.length) clips = [{ id: "", start: "0", end: "", level: "1" }];
    const track = (edit.audio_overlay || [])[0];
    Object.assign(music, track ? { id: track.audio_id || "", level: level(track), start: String(track.audio_start_time ?? "0") }
                               : { id: "", level: "0.5", start: "0" });
    Object.assign(output, { filename: edit.video_output_filename || "", format: edit.video_output_format || "mp4",
      resolution: edit.video_output_resolution || "", fps: String(edit.video_output_fps ?? "") });
    drawClips();
    drawRest();
  }

  function show(next) {
    if (next === mode) return;
    clearErrors();
    if (next === "json") {
      json.value = JSON.stringify(formEdit(), null, 2);
      jsonNote.textContent = "";
    } else {
      let edit;
      try { edit = JSON.parse(json.value); } catch {
        summary.textContent = "The JSON does not parse, so the form cannot show it. Fix it first.";
        return json.focus();
      }
      const dropped = Object.keys(edit).filter((k) => !FORM_KEYS.includes(k));
      loadForm(edit);
      if (dropped.length || (edit.audio_overlay || []).length > 1) {
        summary.textContent = "The form shows the clips, one music track and the output; the rest of the JSON was left out.";
      }
    }
    mode = next;
    formPane.hidden = mode !== "form";
    jsonPane.hidden = mode !== "json";
    form.querySelector("#tab-form").setAttribute("aria-pressed", String(mode === "form"));
    form.querySelector("#tab-json").setAttribute("aria-pressed", String(mode === "json"));
  }

  function clearErrors() {
    summary.textContent = "";
    replace(jsonErrors);
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  // Each error goes next to the field its loc names, or the nearest enclosing one.
  function showFieldErrors(errors) {
    const unplaced = [];
    for (const err of errors) {
      const loc = (err.loc || []).slice(err.loc[0] === "body" ? 1 : 0);
      let input = null;
      for (let n = loc.length; n > 0 && !input; n--) {
        input = formPane.querySelector(`[data-loc="${loc.slice(0, n).join(".")}"]`);
      }
      if (!input) { unplaced.push(err); continue; }
      input.setAttribute("aria-invalid", "true");
      const slot = document.getElementById(`${input.id}-error`);
      const said = plainMessage(err.msg);
      slot.textContent = [slot.textContent, said[0].toUpperCase() + said.slice(1)].filter(Boolean).join(" ");
    }
    const first = formPane.querySelector("[aria-invalid]");
    summary.textContent = errors.length === 1 && !unplaced.length
      ? "The edit was not accepted: see the highlighted field."
      : `The edit was not accepted. ${unplaced.map((e) => `${fieldLabel(e.loc || [])}: ${plainMessage(e.msg)}`).join(" ")}`;
    if (first) first.focus();
  }

  function showJsonErrors(errors) {
    summary.textContent = "The edit was not accepted:";
    replace(jsonErrors, errors.map((err) => {
      const line = lineOf(json.value, (err.loc || []).slice(err.loc[0] === "body" ? 1 : 0));
      return h("li", {}, h("button", { type: "button", class: "link", onclick: () => selectLine(json, line) },
        line ? `Line ${line}` : "Edit"), ` ${fieldLabel(err.loc || [])}: ${plainMessage(err.msg)}`);
    }));
  }

  async function send(event, asPreview = false) {
    event.preventDefault();
    clearErrors();
    let edit;
    if (mode === "json") {
      try { edit = JSON.parse(json.value); } catch (err) {
        summary.textContent = `The JSON does not parse: ${err.message}.`;
        return json.focus();
      }
    } else {
      edit = formEdit();
      const unpicked = edit.video_series_sequential.map((c, i) => c.video_id ? null : i).filter((i) => i !== null);
      if (unpicked.length) {  // said here: the API would only say "must be a UUID"
        return showFieldErrors(unpicked.map((i) => ({ loc: ["body", "video_series_sequential", i, "video_id"],
          msg: sources.length ? "Choose a source for this clip" : "Upload media to this project first" })));
      }
    }
    submit.disabled = preview.disabled = true;
    try {
      const started = await startRender(projectId, edit, asPreview);
      if (started) location.hash = `#/renders/${started}`;
      else summary.textContent = "The edit was saved; it was not rendered (skip_rendering).";
    } catch (err) {
      if (err instanceof ApiError && err.fieldErrors.length) {
        (mode === "json" ? showJsonErrors : showFieldErrors)(err.fieldErrors);
      } else {
        summary.textContent = err.message;
      }
    } finally { submit.disabled = preview.disabled = false; }
  }

  drawClips();
  drawRest();
  return {
    element: form,
    // Put an edit (a stored one) in the JSON editor, to change and render as a new edit.
    load(edit) {
      show("json");
      clearErrors();
      json.value = JSON.stringify(edit, null, 2);
      jsonNote.textContent = "A stored edit: change it here (or in the form), then render it as a new edit.";
      json.focus();
      form.scrollIntoView({ block: "start" });
    },
    // New source list ({id, name, duration, kind: asset | videofile}, analysed media only);
    // what the user picked stays picked.
    setSources(list) {
      const key = (xs) => xs.map((s) => `${s.id}:${s.duration}`).join(",");
      if (key(list) === key(sources)) return;
      if (mode === "form") readForm();
      const first = !sources.length;
      sources = list;
      if (first && list.length) clips = clips.map((c) => ({ ...c, id: c.id || list[0].id }));
      const focused = document.activeElement && document.activeElement.dataset.loc;
      drawClips();
      drawRest();
      if (focused) formPane.querySelector(`[data-loc="${focused}"]`)?.focus();
    },
  };
}

// The 1-based line where `path` (keys and indexes) starts in JSON `text`, or null.
export function lineOf(text, path) {
  let i = 0;
  const skip = () => { while (/\s/.test(text[i])) i++; };
  const string = () => { const start = i++; while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1; i++; return JSON.parse(text.slice(start, i)); };
  function value(depth) {  // returns the offset of path[depth..] within this value, or -1
    skip();
    const here = i;
    if (depth === path.length) { scan(); return here; }
    if (text[i] === "{") {
      i++;
      for (;;) {
        skip();
        if (text[i] === "}") { i++; return -1; }
        const key = string(); skip(); i++;  // the colon
        if (key === path[depth]) return value(depth + 1);
        scan(); skip(); if (text[i] === ",") i++;
      }
    }
    if (text[i] === "[") {
      i++;
      for (let n = 0; ; n++) {
        skip();
        if (text[i] === "]") { i++; return -1; }
        if (n === path[depth]) return value(depth + 1);
        scan(); skip(); if (text[i] === ",") i++;
      }
    }
    scan();
    return -1;
  }
  function scan() {  // past one value
    skip();
    if (text[i] === '"') return string();
    if (text[i] === "{" || text[i] === "[") {
      const close = text[i] === "{" ? "}" : "]";
      i++;
      for (;;) {
        skip();
        if (text[i] === close || i >= text.length) { i++; return; }
        scan(); skip();
        if (text[i] === ":") { i++; scan(); skip(); }
        if (text[i] === ",") i++;
      }
    }
    while (i < text.length && !/[\s,\]}]/.test(text[i])) i++;
  }
  try {
    let at = value(0);
    if (at < 0) {  // not there (a missing field): the nearest enclosing one
      return path.length ? lineOf(text, path.slice(0, -1)) : null;
    }
    return text.slice(0, at).split("\n").length;
  } catch { return null; }
}

function selectLine(textarea, line) {
  if (!line) return textarea.focus();
  const lines = textarea.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  textarea.focus();
  textarea.setSelectionRange(start, start + lines[line - 1].length);
}
