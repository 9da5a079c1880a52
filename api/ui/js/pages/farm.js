// The farm page: queues, live workers, running renders and recent failures, every 2 s.
import { api, pause } from "../api.js";
import { h, replace, progressBar, when, statusBadge, setTitle, landed } from "../dom.js";

export async function farmPage(root, _param, signal) {
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
    h("p", { id: "farm-cache" }, `Your render cache: ${farm.cache.entries} entr${farm.cache.entries === 1 ? "y" : "ies"} (pieces and outputs), ` +
      `${(farm.cache.bytes / 1e6).toFixed(1)} MB of ${(farm.cache.budget / 1e6).toFixed(0)} MB.`),
    table("Recent failures (24 hours)", ["Render", "Reason", "Queue", "Attempt", "Failed at"],
      farm.failures.map((f) => [label(f), f.error, f.queue, f.attempt, when(f.failed_at)]),
      "No render failed in the last 24 hours."),
  ];
}
