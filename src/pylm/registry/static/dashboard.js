// Dashboard: refreshes each cluster's readiness badge and nodes from its status JSON.
// Values are inserted with textContent only.
"use strict";
(function () {
  const table = document.getElementById("clusters");
  if (!table) return;
  const POLL_MS = 5000;

  function when(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toISOString().slice(0, 19).replace("T", " ");
  }

  function render(row, status) {
    let placed = 0, needed = 0;
    for (const svc of Object.values(status.services)) {
      placed += Math.min(svc.placed, svc.needed);
      needed += svc.needed;
    }
    const badge = row.querySelector(".badge");
    badge.textContent = (status.ready ? "ready " : "waiting ") + placed + "/" + needed;
    badge.className = "badge " + (status.ready ? "ready" : "waiting");
    const cell = row.querySelector("td[data-label='Nodes']");
    cell.replaceChildren();
    for (const node of status.nodes) {
      const span = document.createElement("span");
      span.className = "node " + String(node.state).replace(/[^a-z]/g, "");
      span.title = node.ip + ", last heartbeat " + when(node.last_heartbeat);
      span.textContent = node.name + " (" + node.state + ")";
      cell.appendChild(span);
    }
    if (!status.nodes.length) {
      const none = document.createElement("span");
      none.className = "muted";
      none.textContent = "none yet";
      cell.appendChild(none);
    }
  }

  async function refresh() {
    for (const row of table.querySelectorAll("tbody tr[data-status-url]")) {
      try {
        const answer = await fetch(row.dataset.statusUrl, {
          credentials: "same-origin", headers: {Accept: "application/json"}});
        if (answer.ok) render(row, await answer.json());
      } catch (err) {
        // the registry is unreachable for now: keep what is shown
      }
    }
    setTimeout(refresh, POLL_MS);
  }
  setTimeout(refresh, POLL_MS);
})();
