// Building the page: elements from tags, attributes and children; text is always text
// (never parsed as HTML), so names and errors from the API cannot inject markup.
import { api } from "./api.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A progress bar the screen reader and the tests read through aria-valuenow (0-100).
export function progressBar(fraction, label) {
  const bar = h("div", { class: "bar", role: "progressbar", "aria-label": label,
                         "aria-valuemin": 0, "aria-valuemax": 100 }, h("span"));
  setProgress(bar, fraction);
  return bar;
}

export function setProgress(bar, fraction) {
  const percent = Math.round(Math.max(0, Math.min(1, fraction || 0)) * 100);
  bar.setAttribute("aria-valuenow", percent);
  bar.setAttribute("aria-valuetext", `${percent}%`);
  bar.firstChild.style.width = `${percent}%`;
}

export function statusBadge(status) {
  return h("span", { class: `badge s-${status || "none"}` }, status || "not rendered");
}

export function seconds(value) {
  if (value === null || value === undefined) return "";
  const total = Number(value);
  const m = Math.floor(total / 60);
  const s = (total - m * 60).toFixed(total < 60 ? 2 : 0);
  return m ? `${m} min ${s} s` : `${s} s`;
}

export function bytes(value) {
  if (!value) return "";
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let n = value, i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso.endsWith("Z") ? iso : `${iso}Z`);  // the API's times are UTC
  return date.toLocaleString();
}

export function setTitle(text) {
  document.title = `${text} · Canopy`;
}

// A page's row (`what`: "project", "render"), read from `path`; null once the page says it
// was not found. The API answers 404 alike for a missing id and another account's row.
export async function rowOrNotFound(root, path, what, signal) {
  try {
    return (await api("GET", path, { signal })).data;
  } catch (err) {
    if (err.status !== 404) throw err;
    const title = `${what[0].toUpperCase()}${what.slice(1)} not found`;
    setTitle(title);
    replace(root, h("h1", {}, title),
      h("p", { class: "error", role: "alert" },
        `This ${what} does not exist, or it belongs to another account.`),
      h("p", {}, h("a", { href: "#/projects" }, "Back to your projects")));
    return null;
  }
}

// A page just drawn: focus its heading, so keyboard and screen-reader users start there.
export function landed(root) {
  const heading = root.querySelector("h1");
  if (!heading) return;
  heading.tabIndex = -1;
  heading.focus({ preventScroll: true });
}
