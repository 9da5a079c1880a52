// The dashboard's shell: sign-in, the hash router, and the projects and farm pages.
import { api, session, pause } from "./api.js";
import { h, replace, progressBar, when, statusBadge, setTitle, landed } from "./dom.js";
import { projectPage } from "./project.js";
import { renderPage } from "./render.js";

const main = document.getElementById("main");
const PAGE_SIZE = 10;
let current = null;  // the shown page's AbortController: leaving a page stops its timers

const ROUTES = [
  [/^#\/projects\/([0-9a-f-]{36})$/, projectPage],
  [/^#\/renders\/([0-9a-f-]{36})$/, renderPage],
  [/^#\/farm$/, farmPage],
  [/^#\/projects(?:\?page=(\d+))?$/, projectsPage],
];

async function route() {
  if (current) current.abort();
  current = new AbortController();
  const signal = current.signal;
  const hash = location.hash || "#/projects";
  if (!session.key) return signInPage(hash === "#/signin" ? "#/projects" : hash);
  if (hash === "#/signin") { location.hash = "#/projects"; return; }
  showNav(true);
  for (const [pattern, page] of ROUTES) {
    const match = hash.match(pattern);
    if (match) {
      try {
        await page(main, match[1], signal);
      } catch (err) {
        if (err.name !== "AbortError" && !signal.aborted) showError(err);
      }
      return;
    }
  }
  replace(main, h("h1", {}, "Page not found"),
          h("p", {}, "There is no such page. ", h("a", { href: "#/projects" }, "See your projects.")));
}

// Show `hash`: a new hash routes through hashchange, the same one is routed again.
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function showError(err) {
  replace(main, h("h1", {}, "Something is wrong"), h("p", { class: "error", role: "alert" }, err.message),
          h("p", {}, h("a", { href: "#/projects" }, "Back to your projects")));
}

function showNav(visible) {
  document.getElementById("nav").hidden = !visible;
  document.title = "Canopy";
}


// --- Sign in / out ---------------------------------------------------------------------

function signInPage(next) {
  showNav(false);
  setTitle("Sign in");
  const error = h("p", { class: "error", role: "alert", id: "signin-error" });
  const input = h("input", { id: "key", name: "key", type: "password", autocomplete: "off",
                             required: true, spellcheck: "false", "aria-describedby": "signin-error" });
  const form = h("form", { class: "card narrow", onsubmit: async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) { error.textContent = "Enter your API key."; return input.focus(); }
    button.disabled = true;
    try {
      await api("GET", "/users/me", { key });
      session.signIn(key);
      go(next);
      showWho();
    } catch (err) {
      error.textContent = err.status === 401
        ? "That API key was not accepted. Check it and try again." : err.message;
      input.focus();
    } finally { button.disabled = false; }
  } });
  const button = h("button", { type: "submit" }, "Sign in");
  replace(main, h("h1", {}, "Sign in to Canopy"),
          replace(form, h("label", { for: "key" }, "API key"), input,
                  h("p", { class: "hint" }, "Create one with ", h("code", {}, "make user EMAIL=you@example.com"),
                    ". It is kept in this tab only, until you sign out or close it."),
                  error, button));
  input.focus();
}

function signOut() {
  session.signOut();
  document.getElementById("who").textContent = "";
  go("#/signin");
}

async function showWho() {
  if (!session.key) return;
  try {
    const { data } = await api("GET", "/users/me");
    document.getElementById("who").textContent = data.email;
  } catch { /* the page itself reports what is wrong */ }
}

// --- Projects --------------------------------------------------------------------------

async function projectsPage(root, pageParam, signal) {
  setTitle("Projects");
  const page = Math.max(1, Number(pageParam) || 1);
  const { data, headers } = await api("GET", `/projects?limit=${PAGE_SIZE}&page=${page}`, { signal });
  const total = Number(headers.get("X-Total-Count") || data.length);
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  if (page > pages) { location.hash = `#/projects?page=${pages}`; return; }  // e.g. its last one deleted
  const error = h("p", { class: "error", role: "alert" });
  const list = data.length
    ? h("ul", { class: "projects" }, data.map((p) => projectItem(p, error)))
    : h("p", { class: "muted" }, page > 1 ? "No projects on this page." : "No projects yet: create one below.");
  const nav = h("nav", { class: "pager", "aria-label": "Pages" },
    page > 1 ? h("a", { href: `#/projects?page=${page - 1}`, rel: "prev" }, "← Newer") : h("span"),
    h("span", { class: "page-of" }, `Page ${page} of ${pages} · ${total} project${total === 1 ? "" : "s"}`),
    page < pages ? h("a", { href: `#/projects?page=${page + 1}`, rel: "next" }, "Older →") : h("span"));
  replace(root, h("h1", {}, "Projects"), error, list, nav, createProjectForm());
  landed(root);
}

function projectItem(project, error) {
  const renders = project.asset_count;
  const media = project.assets.filter((a) => a.asset_type !== "generated_video").length;
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
          route();
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

// --- Farm ------------------------------------------------------------------------------

async function farmPage(root, _param, signal) {
  setTitle("Farm");
  const body = h("div", { id: "farm" }, h("p", { class: "muted" }, "Loading…"));
  replace(root, h("h1", {}, "Farm"), h("p", { class: "muted" },
    "The whole farm, updated every two seconds. Other people’s renders are shown without their names or files."), body);
  landed(root);
  while (!signal.aborted) {
    try {
      const { data } = await api("GET", "/farm", { signal });
      replace(body, ...farmSections(data));
    } catch (err) {
      if (signal.aborted) return;
      replace(body, h("p", { class: "error", role: "alert" }, err.message));
    }
    await pause(2000, signal);
  }
}

function farmSections(farm) {
  // Rows are lists of cells; each cell carries its column's name, shown beside it on phones.
  const table = (caption, heads, rows, empty) => rows.length
    ? h("table", { class: "stack" }, h("caption", {}, caption),
        h("thead", {}, h("tr", {}, heads.map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell, i) =>
          h("td", { dataset: { label: heads[i] } }, cell))))))
    : h("div", {}, h("h2", { class: "caption" }, caption), h("p", { class: "muted" }, empty));
  const label = (r) => r.mine
    ? h("a", { href: `#/renders/${r.asset_id}` }, r.filename) : h("span", { class: "muted" }, "another user’s render");
  return [
    farm.broker_answered ? null : h("p", { class: "error", role: "alert" },
      "The queue broker (Redis) does not answer: queue depths and workers are unknown."),
    table("Queues", ["Queue", "Messages in the broker", "Queued renders"], farm.queues.map((q) =>
      [q.name, q.waiting_messages ?? "unknown", q.queued_renders]), ""),
    farm.workers === null ? null : table("Live workers", ["Worker", "Queues", "Running"],
      farm.workers.map((w) => [w.name, w.queues.join(", "), w.running]),
      "No worker answers: renders wait in their queue until one starts."),
    table("Running renders", ["Render", "State", "Progress", "Queue", "Worker", "Attempt"],
      farm.running.map((r) => [label(r), statusBadge(r.state), progressBar(r.progress, "Progress"),
                               r.queue, r.worker || "", r.attempt]),
      "Nothing is rendering right now."),
    table("Recent failures (24 hours)", ["Render", "Reason", "Queue", "Attempt", "Failed at"],
      farm.failures.map((f) => [label(f), f.error, f.queue, f.attempt, when(f.failed_at)]),
      "No render failed in the last 24 hours."),
  ];
}

document.getElementById("sign-out").addEventListener("click", signOut);
// The skip link moves the focus only: its #main would be taken for a route.
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", route);
window.addEventListener("canopy:signed-out", () => route());
route().then(showWho);
