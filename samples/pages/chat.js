// The sample pages' chat box: shows what a PushStream receives and sends the form with it.
//
//   chat.attach(pushstream, "lobby")  shows messages, the connection state and errors, and sends
//                                     the form with pushstream.sendMessage("nick: text")
//   chat.server()                     where pushproxy is: ?push=HOST:PORT, else this page's origin
//   chat.param(name, fallback)        a query parameter (?channel=, ?reconnect=, ...)
//
// What arrived is also kept in window.chat.received (and states, errors, deleted), for the
// browser's console and the browser tests.
(function () {
  "use strict";

  const query = new URLSearchParams(window.location.search);
  const STATES = ["closed", "connecting", "open"];
  const COLORS = ["#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#dc2626"];

  const colorOf = (nick) => {
    let hash = 0;
    for (const c of nick) { hash = (hash * 31 + c.charCodeAt(0)) >>> 0; }
    return COLORS[hash % COLORS.length];
  };

  const clock = (time) => {
    const date = time ? new Date(time) : new Date();
    return isNaN(date) ? "" : date.toLocaleTimeString([], {hour12: false});
  };

  const chat = {
    received: [],
    states: [],
    errors: [],
    deleted: [],

    param(name, fallback) {
      const value = query.get(name);
      if (value === null || value === "") { return fallback; }
      return typeof fallback === "number" ? Number(value) : value;
    },

    server() {
      const push = query.get("push");
      if (push) {
        const at = push.lastIndexOf(":");
        return {host: push.slice(0, at), port: Number(push.slice(at + 1))};
      }
      return {host: window.location.hostname, port: window.location.port};
    },

    show(nickAndText, meta, notice) {
      const list = document.getElementById("messages");
      const item = document.createElement("li");
      const at = nickAndText.indexOf(": ");
      const nick = document.createElement("span");
      const text = document.createElement("span");
      const info = document.createElement("span");
      nick.className = "nick";
      text.className = "text";
      info.className = "meta";
      if (notice || at < 0) {
        item.className = notice ? "notice" : "";
        text.textContent = nickAndText;
      } else {
        nick.textContent = nickAndText.slice(0, at);
        nick.style.color = colorOf(nick.textContent);
        text.textContent = nickAndText.slice(at + 2);
      }
      info.textContent = meta || "";
      item.append(nick, text, info);
      list.appendChild(item);
      list.scrollTop = list.scrollHeight;
    },

    // The form's text goes out as "nick: text"; a page may replace chat.send.
    send(pushstream, nick, text) {
      pushstream.sendMessage(`${nick}: ${text}`, null,
        (status) => chat.show(`could not send (${status})`, "", true));
    },

    attach(pushstream, channel) {
      const status = document.getElementById("status");
      pushstream.onstatuschange = (state) => {
        chat.states.push(state);
        status.textContent = STATES[state];
        status.className = "status " + STATES[state];
      };
      pushstream.onmessage = (text, id, messageChannel, eventid, isLast, time) => {
        chat.received.push({text, id, channel: messageChannel, eventid, time});
        chat.show(String(text), `#${messageChannel} · ${id} · ${clock(time)}`);
      };
      pushstream.onerror = (error) => {
        chat.errors.push(error.type);
        chat.show(`connection problem (${error.type}), reconnecting`, "", true);
      };
      pushstream.onchanneldeleted = (deleted) => {
        chat.deleted.push(deleted);
        chat.show(`channel ${deleted} was deleted`, "", true);
      };
      const form = document.getElementById("say");
      if (form) {
        form.addEventListener("submit", (event) => {
          event.preventDefault();
          const text = form.querySelector(".text");
          if (!text.value) { return; }
          chat.send(pushstream, form.querySelector(".nick").value || "guest", text.value);
          text.value = "";
        });
      }
      const where = document.getElementById("channel");
      if (where) { where.textContent = channel; }
    },
  };

  window.chat = chat;
})();
