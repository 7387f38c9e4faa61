// Northvale Service First chat widget. Embed with one tag, served by the civicdesk core:
//   <script src="https://CORE/widget.js" defer></script>
// It talks to the core's chat gateway over a WebSocket (/chat/ws) and keeps the conversation id in
// sessionStorage, so a reload resumes the same conversation and closing the tab forgets it.
// Everything the resident, the assistant or an agent wrote is put on the page with textContent, never as HTML.
"use strict";

(function () {
  if (window.NorthvaleChat) return; // the tag was pasted twice
  const script = document.currentScript;
  const base = new URL(script ? script.src : "/widget.js", window.location.href);
  const origin = base.origin;
  const STORE_ID = "northvale-chat-conversation";
  const STORE_OPEN = "northvale-chat-open";
  const MAX_CHARS = 2000;
  // The gateway gives up on the assistant after 10 seconds and tells the resident so (RASA_TIMEOUT_SECONDS):
  // "typing" that lasts twice that long has lost its answer, and stops rather than spin forever.
  const TYPING_TIMEOUT_MS = 20000;
  const timeFormat = new Intl.DateTimeFormat("en-CA", { hour: "numeric", minute: "2-digit", timeZone: "America/Toronto" });

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function store(key, value) {
    try {
      if (value === null) window.sessionStorage.removeItem(key);
      else window.sessionStorage.setItem(key, value);
    } catch (error) { /* storage disabled: the chat still works, it just does not resume */ }
  }

  function stored(key) {
    try { return window.sessionStorage.getItem(key); } catch (error) { return null; }
  }

  // Text with its web addresses made into links: [label](https://...) and bare https:// addresses.
  // Only http(s) links are made; everything else stays text.
  function richText(container, text) {
    const pattern = /\[([^\]\n]{1,200})\]\((https?:\/\/[^\s)]+)\)|(https?:\/\/[^\s<>"')]+[^\s<>"').,;:!?])/g;
    let last = 0;
    let match;
    while ((match = pattern.exec(text)) !== null) {
      container.appendChild(document.createTextNode(text.slice(last, match.index)));
      const link = el("a", "nvc-link", match[1] || match[3]);
      link.href = match[2] || match[3];
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      container.appendChild(link);
      last = pattern.lastIndex;
    }
    container.appendChild(document.createTextNode(text.slice(last)));
  }

  // ---- the page elements ------------------------------------------------------------------------------------
  const style = el("link");
  style.rel = "stylesheet";
  style.href = origin + "/static/widget.css";
  document.head.appendChild(style);

  const root = el("div", "nvc-root");
  const launcher = el("button", "nvc-launcher", "Chat with us");
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "nvc-panel");

  const panel = el("section", "nvc-panel");
  panel.id = "nvc-panel";
  panel.hidden = true;
  panel.setAttribute("aria-labelledby", "nvc-title");

  const header = el("div", "nvc-header");
  const title = el("h2", "nvc-title", "Northvale Service First chat");
  title.id = "nvc-title";
  const closeButton = el("button", "nvc-close", "Minimize");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", "Minimize the chat");
  const endButton = el("button", "nvc-end", "End chat");
  endButton.type = "button";
  // The buttons keep their words whole (never clipped): at narrow widths or high zoom they wrap, as a pair,
  // under the title.
  const actions = el("div", "nvc-actions");
  actions.append(endButton, closeButton);
  header.append(title, actions);

  const notice = el("p", "nvc-notice");
  notice.append(
    "Notice of collection: what you type here is collected under the Municipal Act, 2001, and used only to " +
      "answer you, under MFIPPA. Please don't share health or banking details. Questions: Access and Privacy " +
      "Office, 905-555-0142 or "
  );
  const privacyLink = el("a", "nvc-link", "privacy@northvale.ca");
  privacyLink.href = "mailto:privacy@northvale.ca";
  notice.append(privacyLink, ". For a life-threatening emergency, call 911.");

  // A live region (role=log) around a list of messages: screen readers announce each new message.
  const log = el("div", "nvc-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "Conversation");
  log.tabIndex = 0; // so keyboard users can scroll a long conversation
  const list = el("ol", "nvc-list");
  log.appendChild(list);

  const status = el("p", "nvc-status");
  status.setAttribute("role", "status");

  const problem = el("p", "nvc-problem");
  problem.setAttribute("role", "alert");

  const form = el("form", "nvc-form");
  const inputLabel = el("label", "nvc-visually-hidden", "Your message");
  inputLabel.htmlFor = "nvc-input";
  const input = el("textarea", "nvc-input");
  input.id = "nvc-input";
  input.rows = 2;
  input.maxLength = MAX_CHARS;
  input.placeholder = "Type your question";
  input.autocomplete = "off";
  const send = el("button", "nvc-send", "Send");
  send.type = "submit";
  form.append(inputLabel, input, send);

  // Shown once the chat has ended (by the resident or an agent): its input is closed, a new chat starts here.
  const restart = el("div", "nvc-restart");
  restart.hidden = true;
  const restartButton = el("button", "nvc-send", "Start a new chat");
  restartButton.type = "button";
  restart.appendChild(restartButton);

  panel.append(header, notice, log, status, problem, form, restart);
  root.append(panel, launcher);
  document.body.appendChild(root);

  // ---- the conversation ----------------------------------------------------------------------------------
  let socket = null;
  let retry = 1000;
  let conversationId = stored(STORE_ID);
  let connected = false;
  const pending = [];
  // Who answers now, as the gateway last said ({"type": "state", "owner": "bot" | "waiting" | "agent" |
  // "closed", ...}); `owner` before it, to say "back with the assistant" after an agent.
  let state = { owner: "bot" };
  let stateLine = "";
  let typingTimer = null;

  function authorName(message) {
    if (message.author === "resident") return "You";
    if (message.author === "bot") return "Virtual assistant";
    if (message.author === "agent") return (message.name || "Agent") + ", Service First";
    return "Service First";
  }

  // The assistant's suggestions answer its last message only; the callback offer stays while the resident waits.
  function clearQuickReplies() {
    list.querySelectorAll(".nvc-replies:not(.nvc-offer)").forEach(function (group) { group.remove(); });
  }

  // Buttons that no longer work are disabled, not removed: screen readers announce them as unavailable and
  // their group says why.
  function retire(groups, why) {
    groups.forEach(function (group) {
      group.querySelectorAll("button, input, textarea").forEach(function (control) { control.disabled = true; });
      if (!group.dataset.retired) {
        group.dataset.retired = "1";
        if (group.hasAttribute("aria-label")) group.setAttribute("aria-label", group.getAttribute("aria-label") + ", " + why);
      }
    });
  }

  function addMessage(message) {
    const item = el("li", "nvc-msg nvc-msg-" + message.author);
    if (message.id) item.dataset.id = String(message.id);
    const who = el("span", "nvc-who", authorName(message));
    item.appendChild(who);
    if (message.at) {
      const time = el("time", "nvc-time", timeFormat.format(new Date(message.at)));
      time.dateTime = message.at;
      item.appendChild(time);
    }
    const body = el("p", "nvc-text");
    richText(body, message.text || "");
    item.appendChild(body);
    list.appendChild(item);
    if (message.buttons && message.buttons.length) addQuickReplies(message.buttons);
    if (message.offer && message.offer.length && !message.history) addOffer(message.offer);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  function addQuickReplies(buttons) {
    const group = el("li", "nvc-replies");
    group.setAttribute("aria-label", "Suggested replies");
    buttons.forEach(function (button) {
      if (/^https?:\/\//.test(button.payload)) {
        const link = el("a", "nvc-reply nvc-link", button.title);
        link.href = button.payload;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        group.appendChild(link);
        return;
      }
      const choice = el("button", "nvc-reply", button.title);
      choice.type = "button";
      choice.addEventListener("click", function () {
        say(button.title, button.payload);
      });
      group.appendChild(choice);
    });
    list.appendChild(group);
  }

  // Waiting too long, or outside business hours: a callback or a message instead of waiting.
  function addOffer(choices) {
    const group = el("li", "nvc-replies nvc-offer");
    group.setAttribute("aria-label", "Instead of waiting");
    const labels = { callback: "Ask for a callback", message: "Leave a message" };
    choices.forEach(function (choice) {
      const button = el("button", "nvc-reply", labels[choice] || choice);
      button.type = "button";
      button.addEventListener("click", function () { showOfferForm(choice, group); });
      group.appendChild(button);
    });
    list.appendChild(group);
  }

  let offerCount = 0;
  function showOfferForm(choice, group) {
    offerCount += 1;
    const prefix = "nvc-offer-" + offerCount + "-";
    const offer = el("form", "nvc-offer-form");
    offer.appendChild(el("p", "nvc-offer-title", choice === "callback" ? "Ask for a callback" : "Leave a message"));
    function field(name, label, type, required, autocomplete) {
      const id = prefix + name;
      const wrapper = el("div", "nvc-field");
      const caption = el("label", "", label + (required ? " (required)" : ""));
      caption.htmlFor = id;
      const control = type === "textarea" ? el("textarea") : el("input");
      if (type !== "textarea") control.type = type;
      control.id = id;
      control.name = name;
      control.required = required;
      control.autocomplete = autocomplete;
      control.maxLength = type === "textarea" ? MAX_CHARS : 254;
      wrapper.append(caption, control);
      offer.appendChild(wrapper);
      return control;
    }
    const name = field("name", "Your name", "text", false, "name");
    const phone = field("phone", "Phone number", "tel", choice === "callback", "tel");
    const email = field("email", "Email", "email", false, "email");
    const text = field("text", choice === "callback" ? "What should we call you about?" : "Your message", "textarea", true, "off");
    const submit = el("button", "nvc-send", choice === "callback" ? "Request the callback" : "Send the message");
    submit.type = "submit";
    offer.appendChild(submit);
    offer.addEventListener("submit", function (event) {
      event.preventDefault();
      transmit({ type: "leave_message", choice: choice, name: name.value, phone: phone.value, email: email.value, text: text.value });
    });
    group.replaceWith(offer);
    name.focus();
  }

  function render(history) {
    list.replaceChildren();
    history.forEach(function (message, index) {
      const last = index === history.length - 1;
      // Old quick replies and offers are not shown again; the latest message's are.
      addMessage(Object.assign({}, message, {
        buttons: last ? message.buttons : [],
        history: !last,
      }));
    });
  }

  function setStatus(text) {
    if (status.textContent !== text) status.textContent = text; // the same words are not announced twice
  }

  // ---- states: assistant, typing, waiting for an agent, agent, ended ---------------------------------------
  // Each is told in words in the status line (a live region, so screen readers announce the change), never by
  // colour alone.
  function minutes(count) { return count === 1 ? "about 1 minute" : "about " + count + " minutes"; }

  function describe(next, previous) {
    if (next.owner === "waiting") {
      const place = next.position ? " You are number " + next.position + " in the queue." : "";
      let wait = "An agent will be with you as soon as possible.";
      if (next.away) wait = "Our agents are away now: you can keep your place, ask for a callback or leave a message.";
      else if (next.wait_minutes) wait = "Expected wait: " + minutes(next.wait_minutes) + ", from how long recent chats waited.";
      return "Waiting for a Service First agent." + place + " " + wait;
    }
    if (next.owner === "agent") {
      return "An agent has joined: you are chatting with " + (next.agent ? next.agent + " from Service First." : "a Service First agent.");
    }
    if (next.owner === "closed") {
      return "This chat has ended. Its buttons no longer work. To ask something else, start a new chat.";
    }
    if (previous === "agent" || previous === "waiting") return "You are chatting with the virtual assistant again.";
    return "";
  }

  function applyState(next) {
    const previous = state.owner;
    state = next;
    panel.dataset.state = next.owner;
    stopTyping();
    const changed = previous !== next.owner;
    // An unchanged owner keeps its line (e.g. "back with the assistant"); a new one says what it is.
    stateLine = describe(next, changed ? previous : "") || (changed ? "" : stateLine);
    setStatus(stateLine);
    if (next.owner === "closed") showEnded();
    else if (previous === "closed") showOpen();
    if (next.owner === "agent" || next.owner === "bot") {
      // Not waiting any more: the callback offer is moot (the gateway would refuse it).
      retire(list.querySelectorAll(":scope > .nvc-offer, :scope > .nvc-offer-form"), "no longer needed: you are no longer waiting");
    }
    log.scrollTop = log.scrollHeight; // the state line (and "Start a new chat") took room: keep the latest in view
  }

  function showTyping() {
    panel.classList.add("nvc-busy");
    setStatus("The assistant is typing…");
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(stopTyping, TYPING_TIMEOUT_MS);
  }

  function stopTyping() {
    window.clearTimeout(typingTimer);
    typingTimer = null;
    if (!panel.classList.contains("nvc-busy")) return;
    panel.classList.remove("nvc-busy");
    setStatus(stateLine);
  }

  // An ended chat: its buttons and fields are disabled (screen readers announce them as unavailable), the
  // message box too, and "Start a new chat" takes the place of "End chat". The survey stays usable.
  function showEnded() {
    retire(list.querySelectorAll(":scope > :not(.nvc-survey)"), "no longer available: this chat has ended");
    input.disabled = true;
    send.disabled = true;
    input.placeholder = "This chat has ended";
    endButton.hidden = true;
    restart.hidden = false;
    // Focus on a control that no longer works (or lost with it) moves to the way forward.
    const active = document.activeElement;
    if (!panel.hidden && (!active || active === document.body || active.disabled || active === endButton)) {
      restartButton.focus();
    }
  }

  function showOpen() {
    input.disabled = false;
    send.disabled = false;
    input.placeholder = "Type your question";
    endButton.hidden = false;
    restart.hidden = true;
  }

  // A new conversation: the ended one is forgotten and a fresh socket asks the gateway for a new id.
  function startNewChat() {
    conversationId = null;
    store(STORE_ID, null);
    list.replaceChildren();
    problem.textContent = "";
    state = { owner: "bot" };
    stateLine = "";
    setStatus("");
    showOpen();
    panel.dataset.state = "bot";
    const old = socket;
    socket = null;
    connected = false;
    if (old) old.close();
    connect();
    input.focus();
  }

  function transmit(data) {
    problem.textContent = "";
    if (socket && connected) socket.send(JSON.stringify(data));
    else { pending.push(data); connect(); setStatus("Connecting…"); }
  }

  function say(text, payload) {
    if (state.owner === "closed") return; // an ended chat's controls are disabled; nothing more is sent
    clearQuickReplies();
    addMessage({ author: "resident", text: text, at: new Date().toISOString() });
    const data = { type: "message", text: text };
    if (payload) data.payload = payload;
    transmit(data);
  }

  function connect() {
    if (socket) return;
    const scheme = origin.startsWith("https:") ? "wss:" : "ws:";
    const url = scheme + origin.slice(origin.indexOf("//")) + "/chat/ws" +
      (conversationId ? "?conversation=" + encodeURIComponent(conversationId) : "");
    const ws = new WebSocket(url);
    socket = ws;
    // A socket replaced by a new chat may still deliver or close: only the current one is listened to.
    ws.addEventListener("open", function () {
      if (socket !== ws) return;
      connected = true;
      retry = 1000;
    });
    ws.addEventListener("message", function (event) {
      if (socket !== ws) return;
      const data = JSON.parse(event.data);
      if (data.type === "conversation") {
        conversationId = data.id;
        store(STORE_ID, data.id);
        render(data.history);
        if (data.history.length === 0) {
          addMessage({ author: "system", text: "Hello! Ask a question about Regional or local services, or type \"agent\" to talk to a person." });
        }
        applyState(data.state || { owner: data.owner });
        while (pending.length) ws.send(JSON.stringify(pending.shift()));
      } else if (data.type === "typing") {
        showTyping();
      } else if (data.type === "message") {
        stopTyping();
        if (!list.querySelector('[data-id="' + data.id + '"]')) addMessage(data);
        if (data.state) applyState(data.state); // the change this message tells of ("has joined", ended...)
        else if (state.owner === "closed") showEnded(); // anything arriving in an ended chat is inert too
      } else if (data.type === "state") {
        applyState(data);
      } else if (data.type === "error") {
        stopTyping();
        problem.textContent = data.message;
      }
    });
    ws.addEventListener("close", function () {
      if (socket !== ws) return;
      socket = null;
      connected = false;
      stopTyping();
      if (!panel.hidden) {
        setStatus("Reconnecting…");
        window.setTimeout(connect, retry);
        retry = Math.min(retry * 2, 30000);
      }
    });
  }

  // ---- ending the chat, with the end-of-chat survey ------------------------------------------------------
  function showSurvey() {
    if (list.querySelector(".nvc-survey")) { list.querySelector(".nvc-survey input").focus(); return; }
    const item = el("li", "nvc-survey");
    const survey = el("form", "nvc-offer-form");
    const group = el("fieldset", "nvc-rating");
    group.appendChild(el("legend", "", "Before you go: how did we do? (optional)"));
    const words = ["Poor", "Fair", "Good", "Very good", "Excellent"];
    words.forEach(function (word, index) {
      const id = "nvc-rating-" + (index + 1);
      const choice = el("input");
      choice.type = "radio";
      choice.name = "rating";
      choice.value = String(index + 1);
      choice.id = id;
      const label = el("label", "", (index + 1) + " " + word);
      label.htmlFor = id;
      group.append(choice, label);
    });
    const commentLabel = el("label", "", "Anything we could do better? (optional)");
    commentLabel.htmlFor = "nvc-rating-comment";
    const comment = el("textarea");
    comment.id = "nvc-rating-comment";
    comment.maxLength = MAX_CHARS;
    comment.rows = 2;
    const submit = el("button", "nvc-send", "End the chat");
    submit.type = "submit";
    const cancel = el("button", "nvc-reply", "Keep chatting");
    cancel.type = "button";
    survey.append(group, commentLabel, comment, submit, cancel);
    item.appendChild(survey);
    list.appendChild(item);
    log.scrollTop = log.scrollHeight;
    cancel.addEventListener("click", function () { item.remove(); input.focus(); });
    survey.addEventListener("submit", function (event) {
      event.preventDefault();
      const picked = survey.querySelector("input[name=rating]:checked");
      const data = { type: "end" };
      if (picked) data.rating = Number(picked.value);
      if (comment.value.trim()) data.comment = comment.value.trim();
      item.remove();
      transmit(data); // the gateway answers with the thanks and the ended state, which moves focus on
      input.focus();
    });
    group.querySelector("input").focus();
  }

  // ---- opening, closing, typing --------------------------------------------------------------------------
  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    launcher.hidden = true;
    store(STORE_OPEN, "1");
    connect();
    input.focus();
  }

  function close() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    store(STORE_OPEN, null);
    launcher.focus();
  }

  launcher.addEventListener("click", open);
  closeButton.addEventListener("click", close);
  endButton.addEventListener("click", showSurvey);
  restartButton.addEventListener("click", startNewChat);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") close();
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (text.length > MAX_CHARS) { problem.textContent = "Messages are limited to " + MAX_CHARS + " characters."; return; }
    input.value = "";
    say(text);
  });
  input.addEventListener("keydown", function (event) {
    // Enter sends; Shift+Enter starts a new line.
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  if (stored(STORE_OPEN)) open();
  window.NorthvaleChat = { open: open, close: close };
})();
