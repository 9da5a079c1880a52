// The dashboard's shell: the hash router (one page per file under pages/), the navigation
// and signing out.
import { api, session } from "./api.js";
import { h, replace } from "./dom.js";
import { farmPage } from "./pages/farm.js";
import { projectPage } from "./pages/project.js";
import { projectsPage } from "./pages/projects.js";
import { renderPage } from "./pages/render.js";
import { signInPage } from "./pages/signin.js";

const main = document.getElementById("main");
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
  if (!session.key) {
    const next = hash === "#/signin" ? "#/projects" : hash;
    showNav(false);
    return signInPage(main, () => { go(next); showWho(); });
  }
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


// --- Sign out ------------------------------------------------------------------------

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

document.getElementById("sign-out").addEventListener("click", signOut);
// The skip link moves the focus only: its #main would be taken for a route.
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", route);
window.addEventListener("canopy:signed-out", () => route());
route().then(showWho);
