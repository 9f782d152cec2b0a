// The live panel: one websocket per tab (/live), pops for calls ringing this operator, lists that
// refresh themselves. Plain modern JS, no libraries. Everything from the server is put on the page
// with textContent (never innerHTML), so a caller-ID name is always text.
"use strict";

(() => {
  const box = document.getElementById("live-pops");
  if (!box) return;  // not logged in
  const labels = JSON.parse(box.dataset.labels || "{}");
  const t = (key) => labels[key] || key;
  const pops = new Map();  // call id -> {node, data}
  let socket = null;
  let failures = 0;
  let stopped = false;

  // --- connection ------------------------------------------------------------------------------
  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/live`);
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      handle(message);
    });
    socket.addEventListener("close", (event) => {
      box.dataset.connected = "false";
      if (event.code === 4401) {  // the session ended: log in again, do not hammer the server
        stopped = true;
        notice(t("session_ended"));
        return;
      }
      if (stopped) return;
      failures += 1;
      const delay = Math.min(30000, 1000 * 2 ** Math.min(failures - 1, 5)) * (0.5 + Math.random() / 2);
      setTimeout(connect, event.code === 4408 ? 0 : delay);
    });
  }

  function handle(message) {
    switch (message.type) {
      case "hello":  // a fresh or reconnected tab: the pops of calls live now replace what we had
        failures = 0;
        box.dataset.connected = "true";
        for (const [id, pop] of pops) if (pop.data.state !== "ended") { pop.node.remove(); pops.delete(id); }
        for (const pop of message.pops || []) showPop(pop, false);
        refresh("calls");
        break;
      case "pop": showPop(message, true); break;
      case "pop.state": setState(message); break;
      case "recording.ready": showRecording(message); break;
      case "calls.changed": refresh("calls"); break;
      case "tasks.changed": refresh("tasks"); break;
      case "presence.changed": refresh("presence"); break;
      case "alert.raised": notice(message.message || ""); refresh("tasks"); break;
      case "reminder":
        notice(`${t("reminder")}: ${message.message || ""}`);
        if (document.hidden && "Notification" in window && Notification.permission === "granted") {
          try { new Notification(t("reminder"), { body: message.message || "", tag: `task-${message.task}` }); } catch { /* */ }
        }
        break;
      default: break;
    }
  }

  // --- pops ------------------------------------------------------------------------------------
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function link(href, text, className) {
    const a = el("a", className, text);
    if (typeof href === "string" && href.startsWith("/")) a.href = href;  // our own pages only
    return a;
  }

  function list(title, items, render, className) {
    if (!items || items.length === 0) return null;
    const section = el("section", `pop-section ${className}`);
    section.append(el("h4", "", title));
    const ul = el("ul");
    for (const item of items) { const li = el("li"); render(li, item); ul.append(li); }
    section.append(ul);
    return section;
  }

  function orderLine(li, o) {
    li.append(link(o.url, `№ ${o.number}`), " · ", el("span", "order-status", o.status), " · ",
      el("span", "order-total", o.total), " · ", el("span", o.overdue ? "order-age overdue" : "order-age",
        `${t("in_status")} ${o.in_status}`));
  }

  function render(data) {
    const node = el("article", "pop");
    node.dataset.call = data.call;
    const head = el("header", "pop-head");
    head.append(el("strong", "pop-title"), " ", el("span", "pop-caller", data.caller));
    const close = el("button", "pop-close", "×");
    close.type = "button";
    close.title = t("close");
    close.addEventListener("click", () => { node.remove(); pops.delete(data.call); });
    head.append(close);
    node.append(head);
    const c = data.customer;
    if (c) {
      const name = el("p", "pop-name");
      name.append(link(c.url, c.name, "pop-customer"));
      if (c.vip) name.append(" ", el("span", "badge vip", "VIP"));
      if (c.new) name.append(" ", el("span", "badge new", t("new_contact")));
      node.append(name);
      if (c.responsible) node.append(el("p", "pop-responsible", `${t("responsible")}: ${c.responsible}`));
    }
    if (data.caller_name && (!c || data.caller_name !== c.name)) {
      node.append(el("p", "pop-caller-name", `${t("caller_id_name")}: ${data.caller_name}`));
    }
    if (data.reason) node.append(el("p", "pop-reason", `${t("why")}: ${data.reason}`));
    const sections = [
      list(t("open_orders"), data.open_orders, orderLine, "pop-open-orders"),
      list(t("latest_orders"), data.latest_orders, orderLine, "pop-latest-orders"),
      list(t("tasks"), data.tasks, (li, k) => {
        li.append(el("span", "task-kind", k.kind), " · ", k.title);
        if (k.due) li.append(" · ", el("span", k.overdue ? "task-due overdue" : "task-due", k.due));
      }, "pop-tasks"),
      list(t("last_calls"), data.calls, (li, k) => {
        li.append(`${k.at} · ${k.direction} · `, el("span", k.missed ? "missed" : "", k.outcome));
        if (k.operator) li.append(` · ${k.operator}`);
      }, "pop-calls"),
      list(t("notes"), data.notes, (li, n) => { li.append(el("q", "", n.body), ` — ${n.author || ""} ${n.at}`); },
        "pop-notes"),
    ];
    for (const section of sections) if (section) node.append(section);
    const actions = el("footer", "pop-actions");
    if (c) {
      actions.append(link(c.url, t("open_card"), "button"));
      if (c.new) actions.append(" ", link(c.edit_url, t("rename"), "button"), " ", link(c.new_order_url, t("new_order"), "button"));
    }
    node.append(actions);
    node.append(resultForm(data.call));
    return node;
  }

  // --- the call result, a note and a task, during or after the call -------------------------------
  let dispositions = null;
  async function loadDispositions() {
    if (!dispositions) {
      dispositions = fetch("/api/v1/call-dispositions", { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : { items: [] })).then((d) => d.items || []).catch(() => []);
    }
    return dispositions;
  }

  function resultForm(callId) {
    const form = el("form", "pop-result");
    form.hidden = true;
    const select = el("select");
    select.name = "disposition";
    select.setAttribute("aria-label", t("result"));
    select.append(new Option(t("result_none"), ""));
    loadDispositions().then((items) => {
      const ru = document.documentElement.lang !== "en";
      for (const d of items) select.append(new Option(ru ? d.title_ru : d.title_en, d.code));
    });
    const note = el("textarea");
    note.name = "note";
    note.maxLength = 5000;
    note.rows = 2;
    note.placeholder = t("quick_note");
    const taskBox = el("label", "pop-make-task");
    const makeTask = el("input");
    makeTask.type = "checkbox";
    taskBox.append(makeTask, ` ${t("make_task")}`);
    const title = el("input");
    title.value = t("default_task_title");
    title.maxLength = 200;
    title.setAttribute("aria-label", t("task_title"));
    const due = el("input");
    due.type = "datetime-local";
    due.setAttribute("aria-label", t("task_due"));
    const save = el("button", "", t("save"));
    save.type = "submit";
    const status = el("span", "pop-result-status");
    form.append(select, note, taskBox, title, due, save, status);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      if (select.value) body.disposition = select.value;
      if (note.value.trim()) body.note = note.value;
      if (makeTask.checked) body.task = { title: title.value, due_at: due.value ? new Date(due.value).toISOString() : null };
      const csrf = document.querySelector('meta[name="csrf-token"]');
      save.disabled = true;
      try {
        const response = await fetch(`/api/v1/calls/${encodeURIComponent(callId)}/result`, {
          method: "POST", credentials: "same-origin", body: JSON.stringify(body),
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.content : "" },
        });
        const data = await response.json().catch(() => ({}));
        status.textContent = response.ok ? t("saved") : (data.message || String(response.status));
        status.className = response.ok ? "pop-result-status ok" : "pop-result-status error";
        if (response.ok) { note.value = ""; makeTask.checked = false; }
      } catch {
        status.textContent = t("call_refused");
      } finally {
        save.disabled = false;
      }
    });
    return form;
  }

  function showPop(data, fresh) {
    const old = pops.get(data.call);
    if (old) old.node.remove();
    const node = render(data);
    const pop = { node, data };
    pops.set(data.call, pop);
    box.prepend(node);
    applyState(pop, data.state, data);
    if (fresh && data.state === "ringing") alertUser(data);
  }

  function setState(message) {
    const pop = pops.get(message.call);
    if (pop) applyState(pop, message.state, message);
  }

  function applyState(pop, state, message) {
    pop.data.state = state;
    pop.node.dataset.state = state;
    let title = t(`state_${state}`);
    if (state === "ended" && message.result) {
      title = t(`state_${message.result}`);  // a click-to-call that did not connect says why
    } else if (state === "ended" && typeof message.talk_s === "number") {
      const m = Math.floor(message.talk_s / 60), s = String(message.talk_s % 60).padStart(2, "0");
      title = `${title} · ${m}:${s}`;
    }
    pop.node.querySelector(".pop-title").textContent = title;
    const form = pop.node.querySelector(".pop-result");
    if (form) form.hidden = !["in_call", "connected", "ended"].includes(state);
  }

  // The call's recording, once registered after the hang-up: a player in its pop (ids in URLs, never paths).
  function showRecording(message) {
    const pop = pops.get(message.call);
    if (!pop || typeof message.url !== "string" || !/^\/recordings\/\d+$/.test(message.url)) return;
    if (pop.node.querySelector(".pop-recording")) return;
    const line = el("p", "pop-recording");
    const audio = el("audio");
    audio.controls = true;
    audio.preload = "none";
    audio.src = message.url;
    line.append(el("span", "", `${t("recording")}: `), audio);
    pop.node.append(line);
  }

  // --- attention when the tab is in the background ----------------------------------------------
  function alertUser(data) {
    if (!document.hidden) return;
    const who = data.customer ? data.customer.name : data.caller;
    if ("Notification" in window && Notification.permission === "granted") {
      try { new Notification(t("state_ringing"), { body: `${who} · ${data.caller}`, tag: data.call }); } catch { /* */ }
    }
    ring();
  }

  function ring() {
    try {
      const audio = new AudioContext();
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = 440;
      gain.gain.value = 0.1;
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.6);
      tone.addEventListener("ended", () => audio.close());
    } catch { /* no audio: the notification is enough */ }
  }

  // Ask for notifications once, on the first click (browsers want a user gesture).
  document.addEventListener("click", () => {
    if (!("Notification" in window) || Notification.permission !== "default") return;
    if (localStorage.getItem("perezvon.notifications.asked")) return;
    localStorage.setItem("perezvon.notifications.asked", "1");
    Notification.requestPermission().catch(() => {});
  }, { once: true });

  // --- lists that refresh themselves -------------------------------------------------------------
  const pending = new Set();
  let timer = null;
  function refresh(kind) {
    if (!document.querySelector(`[data-live-refresh~="${kind}"]`)) return;
    pending.add(kind);
    clearTimeout(timer);
    timer = setTimeout(reload, 300);
  }

  async function reload() {
    const kinds = [...pending];
    pending.clear();
    let html;
    try {
      const response = await fetch(location.href, { credentials: "same-origin", headers: { "X-Live-Refresh": "1" } });
      if (!response.ok) return;
      html = await response.text();
    } catch { return; }
    const fresh = new DOMParser().parseFromString(html, "text/html");
    for (const kind of kinds) {
      for (const node of document.querySelectorAll(`[data-live-refresh~="${kind}"]`)) {
        const replacement = node.id ? fresh.getElementById(node.id) : null;
        if (replacement) node.replaceWith(document.importNode(replacement, true));
      }
    }
  }

  // --- click-to-call ---------------------------------------------------------------------------
  document.addEventListener("click", async (event) => {
    const button = event.target instanceof Element ? event.target.closest(".call-button") : null;
    if (!button) return;
    event.preventDefault();
    const body = {};
    if (button.dataset.callPhone) body.phone = button.dataset.callPhone;
    if (button.dataset.callTask) body.task_id = Number(button.dataset.callTask);
    if (button.dataset.callOrder) body.order_id = Number(button.dataset.callOrder);
    const csrf = document.querySelector('meta[name="csrf-token"]');
    button.disabled = true;
    try {
      const response = await fetch("/api/v1/calls/originate", {
        method: "POST", credentials: "same-origin", body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.content : "" },
      });
      const data = await response.json().catch(() => ({}));
      if (!response.ok) {
        notice(`${t("call_refused")}: ${data.message || response.status}`);
        return;
      }
      // The card arrives on the live connection (maybe before this answer); until then, a placeholder.
      if (!pops.has(data.call_id)) {
        showPop({ type: "pop", call: data.call_id, state: "ringing_you", caller: data.phone, customer: null }, false);
      }
    } catch {
      notice(t("call_refused"));
    } finally {
      button.disabled = false;
    }
  });

  // --- deadlines counting down (callback tasks) ---------------------------------------------------
  function tick() {
    const now = Date.now();
    for (const node of document.querySelectorAll("[data-due-at]")) {
      const due = Date.parse(node.dataset.dueAt);
      if (Number.isNaN(due)) continue;
      const seconds = Math.round((due - now) / 1000);
      const abs = Math.abs(seconds);
      const text = abs >= 3600 ? `${Math.floor(abs / 3600)} ${t("h")} ${Math.floor((abs % 3600) / 60)} ${t("min")}`
        : `${Math.floor(abs / 60)}:${String(abs % 60).padStart(2, "0")}`;
      node.textContent = seconds >= 0 ? `${t("left")} ${text}` : `${t("overdue_by")} ${text}`;
      node.classList.toggle("overdue", seconds < 0);
    }
  }
  setInterval(tick, 1000);
  tick();

  function notice(text) {
    const p = el("p", "live-notice", text);
    p.setAttribute("role", "alert");
    box.prepend(p);
    setTimeout(() => p.remove(), 15000);
  }

  connect();
})();
