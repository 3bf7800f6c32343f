// Logs page: follows new lines over server-sent events and appends them at the bottom.
// The view sticks to the bottom only when the reader is already there; otherwise a button
// counts the new lines. Line text is untrusted: it is inserted with textContent only.
"use strict";
(function () {
  const log = document.getElementById("log");
  if (!log || log.dataset.live !== "yes") return;
  const follow = document.getElementById("follow");
  const stateLabel = document.getElementById("follow-state");
  const jump = document.getElementById("jump");
  const MAX_LINES = 5000;
  let lastId = Number(log.dataset.lastId) || 0;
  let source = null;
  let pending = 0;

  function atBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 24;
  }

  function toBottom() {
    log.scrollTop = log.scrollHeight;
    pending = 0;
    jump.hidden = true;
  }

  function span(tag, cls, text) {
    const node = document.createElement(tag);
    node.className = cls;
    node.textContent = text;
    return node;
  }

  function lineElement(line) {
    const div = document.createElement("div");
    div.className = "line " + String(line.stream).replace(/[^a-z]/g, "");
    div.dataset.id = String(line.id);
    const time = document.createElement("time");
    time.textContent = String(line.time).slice(0, 23).replace("T", " ");
    div.appendChild(time);
    const src = span("span", "src", line.instance || line.service || "—");
    src.title = "node " + line.node;
    div.appendChild(src);
    div.appendChild(span("span", "text", line.text));
    return div;
  }

  function add(line) {
    if (typeof line.id !== "number" || line.id <= lastId) return;
    lastId = line.id;
    const stick = atBottom();
    const empty = document.getElementById("no-lines");
    if (empty) empty.remove();
    log.appendChild(lineElement(line));
    if (stick) {
      while (log.childElementCount > MAX_LINES) log.firstElementChild.remove();
      toBottom();
    } else {
      pending += 1;
      jump.textContent = pending + " new line" + (pending === 1 ? "" : "s") + " ↓";
      jump.hidden = false;
    }
  }

  function start() {
    stop();
    const url = log.dataset.followUrl;
    source = new EventSource(url + (url.includes("?") ? "&" : "?") + "after=" + lastId);
    source.onopen = () => { stateLabel.textContent = "following"; };
    source.onmessage = (event) => {
      let line;
      try { line = JSON.parse(event.data); } catch (err) { return; }
      add(line);
    };
    source.onerror = () => {
      stateLabel.textContent = source.readyState === EventSource.CLOSED
        ? "stopped" : "reconnecting…";
    };
  }

  function stop() {
    if (source) source.close();
    source = null;
    stateLabel.textContent = "paused";
  }

  follow.addEventListener("change", () => (follow.checked ? start() : stop()));
  jump.addEventListener("click", toBottom);
  log.addEventListener("scroll", () => { if (atBottom()) { pending = 0; jump.hidden = true; } });
  toBottom();
  if (follow.checked) start();
  window.addEventListener("beforeunload", stop);
})();
