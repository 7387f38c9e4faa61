// The agent console's live parts: the queue refreshes itself, a conversation streams over a WebSocket, and the
// reply form posts without leaving the page. Text from residents is only ever set with textContent.
"use strict";

(function () {
  const csrf = document.body.dataset.csrf || "";
  const timeFormat = new Intl.DateTimeFormat("en-CA", {
    hour: "2-digit", minute: "2-digit", hour12: false, timeZone: "America/Toronto",
  });

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // ---- the work queue -------------------------------------------------------------------------------------
  const queueTable = document.getElementById("queue");
  if (queueTable && queueTable.dataset.live) {
    const body = queueTable.querySelector("tbody");
    const count = document.getElementById("waiting-count");
    const announcer = document.getElementById("queue-announcer");
    const mine = document.getElementById("mine");
    let lastCount = body.querySelectorAll("tr[data-key]").length;
    const SERVICE_LEVEL_LABELS = { overdue: "Overdue", due_soon: "Due soon" };

    function row(item) {
      const tr = el("tr");
      tr.dataset.key = item.kind + "-" + item.key;
      const urgency = el("td");
      urgency.appendChild(el("span", "urgency urgency-" + item.urgency, item.urgency));
      const title = el("td");
      const link = el("a", "", item.title);
      link.href = item.url;
      title.appendChild(link);
      if (item.flag) title.append(" ", el("span", "badge flag-emergency", item.flag));
      if (item.who) {
        title.appendChild(el("br"));
        title.appendChild(el("span", "hint", "From " + item.who));
      }
      const waiting = el("td", "", Math.floor(item.waiting_seconds / 60) + " min");
      if (SERVICE_LEVEL_LABELS[item.service_level]) {
        waiting.append(" ", el("span", "badge sla-" + item.service_level, SERVICE_LEVEL_LABELS[item.service_level]));
      }
      tr.append(urgency, title, el("td", "", item.reason), waiting, el("td", "", item.kind));
      return tr;
    }

    async function refresh() {
      try {
        const response = await fetch(queueTable.dataset.live, { headers: { Accept: "application/json" } });
        if (response.status === 401) { window.location.assign("/console/login?next=/console/queue"); return; }
        if (!response.ok) return;
        const data = await response.json();
        const rows = data.items.map(row);
        if (rows.length === 0) {
          const empty = el("tr", "empty");
          const cell = el("td", "", "Nobody is waiting.");
          cell.colSpan = 5;
          empty.appendChild(cell);
          rows.push(empty);
        }
        body.replaceChildren(...rows);
        count.textContent = "(" + data.items.length + ")";
        if (data.items.length > lastCount) announcer.textContent = data.items.length + " waiting for an agent";
        lastCount = data.items.length;
        const held = data.mine.map(function (item) {
          const li = el("li");
          const link = el("a", "", item.title);
          link.href = item.url;
          li.appendChild(link);
          return li;
        });
        if (held.length === 0) held.push(el("li", "empty", mine.dataset.empty));
        mine.replaceChildren(...held);
      } catch (error) {
        // The network hiccuped; the next refresh tries again.
      }
    }
    window.setInterval(refresh, 2000);
  }

  // ---- one conversation ---------------------------------------------------------------------------------
  const page = document.querySelector(".chat-page");
  if (page) {
    const transcript = document.getElementById("transcript");
    const status = document.getElementById("chat-status");
    // Open at the newest message: what the resident said last (an emergency, say) is what the agent needs first.
    transcript.scrollTop = transcript.scrollHeight;
    const seen = new Set(Array.from(transcript.querySelectorAll("[data-id]")).map(function (li) { return li.dataset.id; }));
    let lastId = Math.max(0, ...Array.from(seen).map(Number));
    let retry = 1000;
    const who = { resident: "Resident", bot: "Assistant", system: "System" };
    const stateText = {
      waiting: "Waiting for an agent.",
      bot: "The virtual assistant is answering.",
      closed: "Closed.",
    };

    function addMessage(message) {
      const id = String(message.id);
      if (seen.has(id)) return;
      seen.add(id);
      lastId = Math.max(lastId, message.id);
      const li = el("li", "msg msg-" + message.author);
      li.dataset.id = id;
      const name = message.author === "agent" ? (message.name || "Agent") + " (agent)" : who[message.author] || message.author;
      li.appendChild(el("span", "who", name));
      const time = el("time", "", timeFormat.format(new Date(message.at)));
      time.dateTime = message.at;
      li.appendChild(document.createTextNode(" "));
      li.appendChild(time);
      li.appendChild(el("p", "text", message.text));
      if (message.buttons && message.buttons.length) {
        const offered = el("p", "buttons-offered", "Buttons offered: ");
        message.buttons.forEach(function (b) { offered.appendChild(el("span", "chip", b.title)); });
        li.appendChild(offered);
      }
      transcript.appendChild(li);
      li.scrollIntoView({ block: "nearest" });
    }

    function showState(state) {
      const changed = state.owner !== page.dataset.owner || (state.mine ? "yes" : "no") !== page.dataset.mine;
      if (!changed) return;
      let text = state.owner === "agent" ? (state.mine ? "You are answering this conversation." : "Another agent is answering this conversation.") : stateText[state.owner] || state.owner;
      status.textContent = text + " ";
      const reload = el("a", "", "Reload the page to update the actions.");
      reload.href = window.location.pathname;
      status.appendChild(reload);
    }

    function connect() {
      const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      const socket = new WebSocket(scheme + window.location.host + "/console/chats/" + page.dataset.conversation + "/ws?after=" + lastId);
      socket.addEventListener("open", function () { retry = 1000; });
      socket.addEventListener("message", function (event) {
        const data = JSON.parse(event.data);
        if (data.type === "message") addMessage(data);
        else if (data.type === "state") showState(data);
      });
      socket.addEventListener("close", function () {
        window.setTimeout(connect, retry);
        retry = Math.min(retry * 2, 30000);
      });
    }
    connect();
  }

  // ---- forms sent without leaving the page ----------------------------------------------------------------
  document.querySelectorAll("form[data-fetch]").forEach(function (form) {
    const problem = form.querySelector(".form-error");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const response = await fetch(form.action, {
          method: "POST",
          body: new FormData(form),
          headers: { Accept: "application/json", "X-CSRF-Token": csrf },
        });
        if (response.ok) {
          form.reset();
          if (problem) problem.hidden = true;
          const first = form.querySelector("textarea, input:not([type=hidden])");
          if (first) first.focus();
        } else {
          const data = await response.json().catch(function () { return {}; });
          if (problem) {
            problem.textContent = data.detail || "The reply was not sent. Please try again.";
            problem.hidden = false;
          }
        }
      } catch (error) {
        if (problem) { problem.textContent = "The reply was not sent: the connection was lost."; problem.hidden = false; }
      } finally {
        button.disabled = false;
      }
    });
  });

  // ---- an email reply: insert a knowledgebase passage or a saved reply where the cursor is ------------------
  const replyText = document.getElementById("reply-text");
  if (replyText) {
    document.querySelectorAll("button[data-insert]").forEach(function (button) {
      button.hidden = false;  // without the script the texts are still there to copy
      button.addEventListener("click", function () {
        const text = button.dataset.insert || "";
        const before = replyText.value.slice(0, replyText.selectionStart);
        const after = replyText.value.slice(replyText.selectionEnd);
        const gap = !before || before.endsWith("\n\n") ? "" : before.endsWith("\n") ? "\n" : "\n\n";
        replyText.value = before + gap + text + after;
        const caret = (before + gap + text).length;
        replyText.focus();
        replyText.setSelectionRange(caret, caret);
      });
    });
  }
})();
