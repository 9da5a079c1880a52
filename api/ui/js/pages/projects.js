// The projects page: the caller's projects, a page at a time, and a form for a new one.
import { api, GENERATED } from "../api.js";
import { h, replace, when, setTitle, landed } from "../dom.js";

const PAGE_SIZE = 10;

export async function projectsPage(root, pageParam, signal) {
  setTitle("Projects");
  const page = Math.max(1, Number(pageParam) || 1);
  const { data, headers } = await api("GET", `/projects?limit=${PAGE_SIZE}&page=${page}`, { signal });
  const total = Number(headers.get("X-Total-Count") || data.length);
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  if (page > pages) { location.hash = `#/projects?page=${pages}`; return; }  // e.g. its last one deleted
  const error = h("p", { class: "error", role: "alert" });
  const list = data.length
    ? h("ul", { class: "projects" }, data.map((p) => projectItem(p, error, () => projectsPage(root, pageParam, signal))))
    : h("p", { class: "muted" }, page > 1 ? "No projects on this page." : "No projects yet: create one below.");
  const nav = h("nav", { class: "pager", "aria-label": "Pages" },
    page > 1 ? h("a", { href: `#/projects?page=${page - 1}`, rel: "prev" }, "← Newer") : h("span"),
    h("span", { class: "page-of" }, `Page ${page} of ${pages} · ${total} project${total === 1 ? "" : "s"}`),
    page < pages ? h("a", { href: `#/projects?page=${page + 1}`, rel: "next" }, "Older →") : h("span"));
  replace(root, h("h1", {}, "Projects"), error, list, nav, createProjectForm());
  landed(root);
}

// `reload()` shows the page again once the project is deleted.
function projectItem(project, error, reload) {
  const renders = project.asset_count;
  const media = project.assets.filter((a) => a.asset_type !== GENERATED).length;
  return h("li", { class: "card row" },
    h("div", { class: "grow" },
      h("a", { href: `#/projects/${project.id}`, class: "title" }, project.name),
      h("p", { class: "muted" }, project.description || "No description."),
      h("p", { class: "small muted" }, `${media} media · ${renders} finished render${renders === 1 ? "" : "s"} · created ${when(project.created_at)}`)),
    h("button", { type: "button", class: "danger", "aria-label": `Delete project ${project.name}`,
      onclick: async () => {
        if (!confirm(`Delete the project “${project.name}”, its media and renders? This cannot be undone.`)) return;
        try {
          await api("DELETE", `/projects/${project.id}`);
          await reload();
        } catch (err) { error.textContent = err.message; }
      } }, "Delete"));
}

function createProjectForm() {
  const error = h("p", { class: "error", role: "alert", id: "create-error" });
  const name = h("input", { id: "project-name", name: "name", required: true, maxlength: 200 });
  const description = h("textarea", { id: "project-description", name: "description", rows: 2 });
  const form = h("form", { class: "card", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!name.value.trim()) { error.textContent = "Give the project a name."; return name.focus(); }
    try {
      const { data } = await api("POST", "/projects", {
        json: { name: name.value.trim(), description: description.value } });
      location.hash = `#/projects/${data.id}`;
    } catch (err) { error.textContent = err.message; }
  } },
    h("h2", {}, "New project"),
    h("label", { for: "project-name" }, "Name"), name,
    h("label", { for: "project-description" }, "Description"), description,
    error, h("button", { type: "submit" }, "Create project"));
  return form;
}
