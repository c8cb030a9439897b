// The Chipin playground page: rooms on the left, the chat in the middle, balances on the right.
// It only talks to /playground/api: posting puts a message in the inbox; the bot's answers come
// back through the feed, which is polled with a cursor while the tab is visible.
"use strict";

(() => {
  const API = document.body.dataset.api;
  const POLL_MS = 700;
  const $ = (selector) => document.querySelector(selector);

  const state = {
    rooms: [],
    room: null, // the room shown, as the API describes it
    cursor: null,
    items: new Map(), // "user-12" / "bot-34" → <li>
    byProvider: new Map(), // provider message id → <li> of a bot message, for edits
    notices: new Set(),
    loaded: false, // the first feed of a room is history: its notices are not toasted
    timer: null,
    polling: false,
    again: false,
  };

  // -- small helpers ----------------------------------------------------------------------------

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "className") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function describe(detail) {
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail.map((d) => String(d.msg || "").replace(/^Value error, /, "")).join("; ");
    }
    return "";
  }

  async function api(method, path, body) {
    const options = { method, headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(API + path, options);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(describe(data.detail) || `${response.status} ${response.statusText}`);
    return data;
  }

  function field(form, name) {
    return form.elements.namedItem(name);
  }

  function showError(node, message) {
    node.textContent = message || "";
    node.hidden = !message;
  }

  function clock(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function toast(text, to) {
    const node = el("div", { className: "toast", role: "status" },
      el("span", { className: "toast-to" }, to ? `Only ${to} sees this` : "Private"),
      el("span", {}, text));
    $("#toasts").append(node);
    setTimeout(() => node.classList.add("leaving"), 3600);
    setTimeout(() => node.remove(), 4000);
  }

  // -- rooms ------------------------------------------------------------------------------------

  function renderRooms() {
    const list = $("#room-list");
    list.replaceChildren();
    if (!state.rooms.length) list.append(el("li", { className: "muted" }, "No groups yet."));
    for (const room of state.rooms) {
      const current = state.room && state.room.id === room.id;
      list.append(el("li", {},
        el("button", {
          type: "button",
          className: current ? "room current" : "room",
          "aria-current": current ? "true" : "false",
          onclick: () => openRoom(room),
        },
        el("strong", {}, room.group),
        el("span", { className: "muted" }, `${room.currency} · ${room.members.length} members`))));
    }
  }

  async function loadRooms() {
    const data = await api("GET", "/rooms");
    state.rooms = data.rooms;
    $("#create-box").open = state.rooms.length === 0;
    if (!state.rooms.length) {
      const form = $("#create-room");
      field(form, "name").value ||= "Weekend trip";
      field(form, "members").value ||= "Ana, Raj, Mia";
    }
    const hash = new URLSearchParams(location.hash.slice(1));
    const wanted = hash.get("room");
    const room = state.rooms.find((r) => r.id === wanted) || state.rooms[0];
    if (room) openRoom(room);
    else renderRooms();
    // the dashboard's "Replay in playground" link carries the text to try again
    const replay = hash.get("text");
    if (room && replay) $("#text").value = replay;
  }

  function speakerKey(room) {
    return `chipin.playground.as.${room.id}`;
  }

  function renderRoom(room) {
    state.room = room;
    $("#room-title").textContent = room.group;
    $("#room-meta").textContent = `${room.currency} · ${room.timezone} · ${room.members.join(", ")}`;
    const picker = $("#speaker");
    const chosen = picker.value || localStorage.getItem(speakerKey(room)) || room.members[0] || "";
    picker.replaceChildren(...room.members.map((name) => el("option", { value: name }, name)));
    picker.value = room.members.includes(chosen) ? chosen : room.members[0] || "";
    const ready = room.members.length > 0;
    for (const node of [picker, $("#text"), $("#composer button")]) node.disabled = !ready;
    $("#add-member").hidden = false;
    markMine();
  }

  function openRoom(room) {
    clearTimeout(state.timer);
    Object.assign(state, { cursor: null, loaded: false, items: new Map(), byProvider: new Map() });
    state.notices.clear();
    $("#messages").replaceChildren();
    $("#speaker").value = "";
    history.replaceState(null, "", `#room=${encodeURIComponent(room.id)}`);
    renderRoom(room);
    renderRooms();
    renderBalances([]);
    pollSoon(0);
    $("#text").focus();
  }

  // -- messages ---------------------------------------------------------------------------------

  function sortKey(message) {
    const at = message.received_at || message.created_at;
    return `${at}|${message.type === "bot" ? 1 : 0}|${String(message.id).padStart(12, "0")}`;
  }

  function statusMark(status) {
    return { pending: "…", done: "✓", failed: "⚠ not handled", dead: "⚠ not delivered" }[status] || "";
  }

  function fillUser(node, message) {
    node.replaceChildren(
      el("div", { className: "who" }, message.sender),
      el("div", { className: "bubble" },
        el("p", { className: "text" }, message.text),
        el("span", { className: "meta" }, `${clock(message.received_at)} ${statusMark(message.status)}`)));
    node.dataset.sender = message.sender;
  }

  function fillBot(node, message) {
    const actions = message.actions.map((action) => el("button", {
      type: "button",
      onclick: (event) => press(event.currentTarget, action.data, node.dataset.provider),
    }, action.label));
    const meta = [clock(message.created_at), message.edited ? "edited" : "", statusMark(message.status)];
    node.replaceChildren(
      el("div", { className: "who" }, "Chipin"),
      el("div", { className: "bubble" },
        el("p", { className: "text" }, message.text),
        actions.length ? el("div", { className: "actions" }, ...actions) : null,
        el("span", { className: "meta" }, meta.filter(Boolean).join(" · "))));
  }

  function upsert(message) {
    const key = `${message.type}-${message.id}`;
    let node = state.items.get(key);
    if (!node) {
      node = el("li", { className: `msg ${message.type}`, dataset: { sort: sortKey(message) } });
      const list = $("#messages");
      const after = [...list.children].find((li) => li.dataset.sort > node.dataset.sort);
      list.insertBefore(node, after || null);
      state.items.set(key, node);
    }
    if (message.type === "user") fillUser(node, message);
    else {
      fillBot(node, message);
      if (message.provider_message_id) {
        node.dataset.provider = message.provider_message_id;
        state.byProvider.set(message.provider_message_id, node);
      }
    }
    return node;
  }

  function applyEdit(edit) {
    const node = state.byProvider.get(edit.message_id);
    if (!node) return;
    const text = node.querySelector(".text");
    text.textContent = edit.text;
    const old = node.querySelector(".actions");
    if (old) old.remove();
    if (edit.actions.length) {
      text.after(el("div", { className: "actions" }, ...edit.actions.map((action) => el("button", {
        type: "button",
        onclick: (event) => press(event.currentTarget, action.data, node.dataset.provider),
      }, action.label))));
    }
    const meta = node.querySelector(".meta");
    if (!meta.textContent.includes("edited")) meta.textContent += " · edited";
  }

  function markMine() {
    const me = $("#speaker").value;
    for (const node of state.items.values()) {
      node.classList.toggle("mine", node.classList.contains("user") && node.dataset.sender === me);
    }
  }

  // -- balances ---------------------------------------------------------------------------------

  function renderBalances(currencies) {
    const box = $("#balances");
    box.replaceChildren();
    if (!currencies.length) {
      box.append(el("p", { className: "muted" }, "Nothing recorded yet."));
      return;
    }
    for (const c of currencies) {
      const rows = c.members.map((m) => {
        const sign = m.amount.startsWith("-") ? "owes" : /[1-9]/.test(m.amount) ? "owed" : "even";
        const words = { owes: "owes", owed: "is owed", even: "settled" }[sign];
        return el("li", { className: `balance ${sign}` },
          el("span", {}, m.name),
          el("span", { className: "amount", title: words },
            `${sign === "owed" ? "+" : ""}${m.amount} ${c.currency}`));
      });
      box.append(el("h3", {}, c.currency), el("ul", { className: "balance-list" }, ...rows));
      if (c.transfers.length) {
        box.append(el("p", { className: "muted" }, "To settle up:"), el("ul", { className: "transfers" },
          ...c.transfers.map((t) => el("li", {}, `${t.from} → ${t.to}: ${t.amount} ${c.currency}`))));
      } else {
        box.append(el("p", { className: "muted" }, "Everyone is settled up."));
      }
    }
  }

  // -- the feed ---------------------------------------------------------------------------------

  function applyFeed(feed) {
    const list = $("#messages");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    let added = false;
    for (const message of feed.messages) {
      added = added || !state.items.has(`${message.type}-${message.id}`);
      upsert(message);
    }
    for (const edit of feed.edits) applyEdit(edit);
    for (const notice of feed.notices) {
      if (state.notices.has(notice.id)) continue;
      state.notices.add(notice.id);
      if (state.loaded) toast(notice.text, notice.to);
    }
    if (feed.room.members.join("\n") !== state.room.members.join("\n")) {
      renderRoom(feed.room);
      const index = state.rooms.findIndex((r) => r.id === feed.room.id);
      if (index >= 0) state.rooms[index] = feed.room;
      renderRooms();
    }
    renderBalances(feed.balances);
    markMine();
    $("#empty").hidden = state.items.size > 0;
    if (added && (atBottom || !state.loaded)) list.scrollTop = list.scrollHeight;
    state.cursor = feed.cursor;
    state.loaded = true;
  }

  async function poll() {
    if (!state.room) return;
    if (state.polling) {
      state.again = true;
      return;
    }
    state.polling = true;
    const room = state.room;
    try {
      const query = state.cursor ? `?after=${encodeURIComponent(state.cursor)}` : "";
      const feed = await api("GET", `/rooms/${encodeURIComponent(room.id)}/feed${query}`);
      if (state.room === room) applyFeed(feed);
      showError($("#chat-error"), "");
    } catch (error) {
      showError($("#chat-error"), `Lost touch with the server: ${error.message}`);
    } finally {
      state.polling = false;
      pollSoon(state.again ? 0 : POLL_MS);
      state.again = false;
    }
  }

  function pollSoon(delay = POLL_MS) {
    clearTimeout(state.timer);
    if (document.visibilityState === "visible" && state.room) state.timer = setTimeout(poll, delay);
  }

  // -- talking ----------------------------------------------------------------------------------

  async function send(event) {
    event.preventDefault();
    const input = $("#text");
    const text = input.value.trim();
    if (!text || !state.room) return;
    try {
      await api("POST", `/rooms/${encodeURIComponent(state.room.id)}/messages`, {
        as: $("#speaker").value,
        text,
      });
      input.value = "";
      showError($("#chat-error"), "");
      pollSoon(0);
    } catch (error) {
      showError($("#chat-error"), error.message);
    }
    input.focus();
  }

  async function press(button, data, messageId) {
    if (!messageId) return;
    button.disabled = true;
    try {
      await api("POST", `/rooms/${encodeURIComponent(state.room.id)}/actions`, {
        as: $("#speaker").value,
        data,
        message_id: messageId,
      });
      pollSoon(0);
    } catch (error) {
      showError($("#chat-error"), error.message);
    } finally {
      setTimeout(() => { button.disabled = false; }, 800);
    }
  }

  async function createRoom(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const error = form.querySelector(".error");
    const picked = field(form, "currency").value;
    const currency = picked === "other" ? field(form, "currency_other").value : picked;
    const members = field(form, "members").value.split(",").map((name) => name.trim()).filter(Boolean);
    try {
      const room = await api("POST", "/rooms", {
        name: field(form, "name").value,
        currency,
        timezone: field(form, "timezone").value || undefined,
        members,
      });
      showError(error, "");
      field(form, "name").value = "";
      state.rooms.unshift(room);
      $("#create-box").open = false;
      openRoom(room);
    } catch (failure) {
      showError(error, failure.message);
    }
  }

  async function addMember(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const error = form.querySelector(".error");
    if (!state.room) return;
    try {
      const room = await api("POST", `/rooms/${encodeURIComponent(state.room.id)}/members`, {
        name: field(form, "name").value,
      });
      field(form, "name").value = "";
      showError(error, "");
      const index = state.rooms.findIndex((r) => r.id === room.id);
      if (index >= 0) state.rooms[index] = room;
      renderRoom(room);
      renderRooms();
    } catch (failure) {
      showError(error, failure.message);
    }
  }

  // -- wiring -----------------------------------------------------------------------------------

  function start() {
    const create = $("#create-room");
    const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const zone = field(create, "timezone");
    if (browserZone && zone.value === "UTC") zone.value = browserZone;
    create.addEventListener("submit", createRoom);
    field(create, "currency").addEventListener("change", (event) => {
      const other = event.currentTarget.value === "other";
      $("#currency-other").hidden = !other;
      field(create, "currency_other").required = other;
    });
    $("#add-member").addEventListener("submit", addMember);
    $("#composer").addEventListener("submit", send);
    $("#speaker").addEventListener("change", (event) => {
      if (state.room) localStorage.setItem(speakerKey(state.room), event.currentTarget.value);
      markMine();
      $("#text").focus();
    });
    for (const button of document.querySelectorAll(".example")) {
      button.addEventListener("click", () => {
        $("#text").value = button.textContent;
        $("#text").focus();
      });
    }
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") pollSoon(0);
      else clearTimeout(state.timer);
    });
    loadRooms().catch((error) => showError($("#chat-error"), error.message));
  }

  start();
})();
