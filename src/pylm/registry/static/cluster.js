// Cluster page: polls the status JSON and redraws readiness, services, instances and nodes.
// Every value from the server is inserted with textContent, never as HTML.
"use strict";
(function () {
  const root = document.getElementById("cluster");
  if (!root) return;
  const url = root.dataset.statusUrl;
  const POLL_MS = 2000;
  const updated = document.getElementById("updated");

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function when(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return isNaN(d) ? String(iso).slice(0, 26) : d.toISOString().slice(0, 19).replace("T", " ");
  }

  function row(cells, data) {
    const tr = document.createElement("tr");
    for (const [label, content] of cells) {
      const td = document.createElement("td");
      td.dataset.label = label;
      if (content instanceof Node) td.appendChild(content); else td.textContent = content;
      tr.appendChild(td);
    }
    if (data) for (const [k, v] of Object.entries(data)) tr.dataset[k] = v;
    return tr;
  }

  function state(name) {
    return el("span", name, "state " + String(name).replace(/[^a-z]/g, ""));
  }

  function emptyRow(columns, text) {
    const tr = el("tr", null, "empty-row");
    const td = el("td", text);
    td.colSpan = columns;
    tr.appendChild(td);
    return tr;
  }

  function addresses(command) {
    const span = document.createElement("span");
    for (const address of String(command).match(/tcp:\/\/[^\s'"]+/g) || []) {
      span.appendChild(el("code", address));
      span.appendChild(document.createTextNode(" "));
    }
    return span;
  }

  function render(status) {
    let placed = 0, needed = 0;
    const services = document.getElementById("services-body");
    services.replaceChildren();
    for (const [name, svc] of Object.entries(status.services)) {
      placed += Math.min(svc.placed, svc.needed);
      needed += svc.needed;
      services.appendChild(row([["Service", name], ["Role", svc.role],
        ["Placed", svc.placed + "/" + svc.needed]]));
    }
    const badge = document.getElementById("readiness");
    badge.textContent = (status.ready ? "ready " : "waiting ") + placed + "/" + needed;
    badge.className = "badge big " + (status.ready ? "ready" : "waiting");

    const instances = document.getElementById("instances-body");
    instances.replaceChildren();
    for (const inst of status.instances) {
      instances.appendChild(row([
        ["Service", inst.service], ["Replica", String(inst.replica)], ["Node", inst.node],
        ["Addresses", addresses(inst.command)], ["State", state(inst.state)],
        ["Restarts", String(inst.restarts)],
        ["Last exit", inst.last_exit === null ? "—" : String(inst.last_exit)],
        ["Started", when(inst.started_at)]], {instance: inst.instance}));
    }
    if (!status.instances.length) {
      instances.appendChild(emptyRow(8, "Nothing placed yet: start a runner with the command above."));
    }

    const nodes = document.getElementById("nodes-body");
    nodes.replaceChildren();
    for (const node of status.nodes) {
      nodes.appendChild(row([["Node", node.name], ["IP", node.ip],
        ["Last heartbeat", when(node.last_heartbeat)], ["State", state(node.state)]],
        {node: node.name}));
    }
    if (!status.nodes.length) nodes.appendChild(emptyRow(4, "No node has joined."));
  }

  let timer = null;
  async function poll() {
    try {
      const answer = await fetch(url, {credentials: "same-origin",
                                       headers: {Accept: "application/json"}});
      if (answer.status === 404) {
        updated.textContent = "This cluster no longer exists.";
        return;
      }
      if (answer.status === 401 || answer.status === 403) {
        updated.textContent = "Your session ended: log in again.";
        return;
      }
      if (!answer.ok) throw new Error("status " + answer.status);
      render(await answer.json());
      updated.textContent = "updated " + new Date().toLocaleTimeString();
    } catch (err) {
      updated.textContent = "cannot reach the registry; retrying…";
    }
    timer = setTimeout(poll, POLL_MS);
  }
  timer = setTimeout(poll, POLL_MS);

  const copy = document.getElementById("copy-command");
  if (copy) {
    copy.addEventListener("click", function () {
      const text = document.getElementById("runner-command").textContent;
      const done = () => { copy.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, () => {});
      } else {
        const range = document.createRange();
        range.selectNodeContents(document.getElementById("runner-command"));
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        copy.textContent = "Selected: press Ctrl+C";
      }
    });
  }
  window.addEventListener("beforeunload", () => clearTimeout(timer));
})();
