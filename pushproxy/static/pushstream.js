/*
 * pushstream.js: pushproxy's JavaScript client.
 *
 * It keeps the API of the nginx push stream module's own pushstream.js, so a page written for
 * that client works unchanged against pushproxy (and against nginx with the module):
 *
 *   const pushstream = new PushStream({host: window.location.hostname,
 *                                      port: window.location.port,
 *                                      modes: "websocket|eventsource|longpolling|stream"});
 *   pushstream.onmessage = (text, id, channel) => { ... };
 *   pushstream.addChannel("ch1");
 *   pushstream.connect();
 *
 * One transport is used at a time, the first of `modes` that connects; the others are
 * fallbacks. The locations it talks to must render messages with the JSON template the module's
 * documentation gives, e.g.
 *
 *   push_stream_message_template "{\"id\":~id~,\"channel\":\"~channel~\",\"text\":\"~text~\",\"tag\":\"~tag~\",\"time\":\"~time~\"}";
 *
 * and, for the stream mode, the forever-iframe header template that calls
 * `parent.PushStream.register(this)` with a message template calling `p(~id~,'~channel~','~text~')`.
 * With `~tag~` and `~time~` in the template, a reconnection resumes after the last message
 * received (the location reads `push_stream_last_received_message_tag $arg_tag;` and
 * `push_stream_last_received_message_time $arg_time;`).
 *
 * Plain ES2017, no dependencies, no build step. See docs/javascript-client.md.
 */
(function (window, document) {
  "use strict";

  if (window.PushStream) { return; } // loaded twice: keep the first

  const CLOSED = 0;
  const CONNECTING = 1;
  const OPEN = 2;

  // A long-poll is asked again this long after an answer, as the module's client does.
  const LONGPOLLING_INTERVAL = 100;
  // A long-poll still waiting after this long counts as an open connection; so does a WebSocket
  // not refused this long after its handshake (a refusal is a close frame right after the 101).
  const OPEN_AFTER = 150;

  /* ---- small helpers ---------------------------------------------------------------------- */

  const log = {
    _write(level, args) {
      const wanted = PushStream.LOG_LEVEL;
      const rank = {debug: 0, info: 1, error: 2};
      if ((rank[level] ?? 2) < (rank[wanted] ?? 2)) { return; }
      if (window.console && window.console.log) { window.console.log("[PushStream]", ...args); }
      const element = document.getElementById(PushStream.LOG_OUTPUT_ELEMENT_ID);
      if (element) { element.textContent += args.join(" ") + "\n"; }
    },
    debug(...args) { this._write("debug", args); },
    info(...args) { this._write("info", args); },
    error(...args) { this._write("error", args); },
  };

  const isString = (value) => typeof value === "string";

  // Messages travel escaped, as the module's client sends them: its sendMessage escapes the
  // text (escape()), and every receiver unescapes it. Text percent-encoded as UTF-8 (what other
  // publishers send) decodes too.
  const escapeText = (text) => (text ? window.escape(String(text)) : "");

  const unescapeText = (text) => {
    if (!text || text.indexOf("%") < 0) { return text || ""; }
    try {
      return decodeURIComponent(text.replace(/%u([0-9a-fA-F]{4})/g,
        (match, hex) => encodeURIComponent(String.fromCharCode(parseInt(hex, 16)))));
    } catch (e) {
      return window.unescape(text);
    }
  };

  // `{a: 1, b: ""}` → "a=1&b="; null and undefined are sent empty, as the module's client does
  // (its first connection sends `tag=&time=`: no position yet).
  const toQuery = (params) => Object.keys(params)
    .map((key) => {
      const value = params[key];
      return encodeURIComponent(key) + "=" +
        (value === null || value === undefined ? "" : encodeURIComponent(value));
    })
    .join("&");

  const addParams = (url, params) => {
    const query = toQuery(params);
    if (!query) { return url; }
    return url + (url.indexOf("?") < 0 ? "?" : "&") + query;
  };

  const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const two = (n) => (n < 10 ? "0" : "") + n;

  // The HTTP date the server writes for ~time~ and reads back: "Thu, 01 Jan 1970 00:00:00 GMT".
  const httpDate = (date) =>
    `${DAYS[date.getUTCDay()]}, ${two(date.getUTCDate())} ${MONTHS[date.getUTCMonth()]} ` +
    `${date.getUTCFullYear()} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:` +
    `${two(date.getUTCSeconds())} GMT`;

  // The JSON objects in a body that holds several messages back to back (`{...}{...}`, how a
  // long-poll answer with many messages arrives), found by tracking strings and braces.
  const splitJsonObjects = (text) => {
    const objects = [];
    let depth = 0;
    let start = -1;
    let inString = false;
    let escaped = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        if (escaped) { escaped = false; } else if (c === "\\") { escaped = true; } else if (c === "\"") { inString = false; }
      } else if (c === "\"") {
        inString = depth > 0;
      } else if (c === "{") {
        if (depth++ === 0) { start = i; }
      } else if (c === "}" && depth > 0) {
        if (--depth === 0) { objects.push(text.slice(start, i + 1)); }
      }
    }
    return objects;
  };

  /* ---- the PushStream class --------------------------------------------------------------- */

  const instances = []; // PushStreamManager: every PushStream of the page, by id

  const DEFAULTS = {
    useSSL: false,
    host: null, // the page's host
    port: null, // the page's port when host is the page's host, else 80 (443 with useSSL)
    timeout: 30000,
    pingtimeout: 30000,
    reconnectOnTimeoutInterval: 3000,
    reconnectOnChannelUnavailableInterval: 60000,
    autoReconnect: true,
    lastEventId: null,
    messagesPublishedAfter: null,
    messagesControlByArgument: false,
    tagArgument: "tag",
    timeArgument: "time",
    eventIdArgument: "eventid",
    useJSONP: false,
    urlPrefixPublisher: "/pub",
    urlPrefixStream: "/sub",
    urlPrefixEventsource: "/ev",
    urlPrefixLongpolling: "/lp",
    urlPrefixWebsocket: "/ws",
    jsonIdKey: "id",
    jsonChannelKey: "channel",
    jsonTextKey: "text",
    jsonTagKey: "tag",
    jsonTimeKey: "time",
    jsonEventIdKey: "eventid",
    jsonEventTypeKey: "eventtype",
    modes: "eventsource|websocket|stream|longpolling",
    channelsByArgument: false,
    channelsArgument: "channels",
  };

  class PushStream {
    constructor(settings) {
      settings = settings || {};
      this.id = instances.push(this) - 1;
      for (const key of Object.keys(DEFAULTS)) {
        const given = settings[key];
        this[key] = (given === undefined || given === null || given === "") ? DEFAULTS[key] : given;
      }
      // JSONP is automatic across origins for long-polling, unless turned off explicitly
      // (then CORS requests: the location needs push_stream_allowed_origins).
      this._jsonpDisabled = settings.useJSONP === false;
      this.host = this.host || window.location.hostname;
      if (!this.port) {
        const samePage = this.host === window.location.hostname && window.location.port;
        this.port = samePage ? window.location.port : (this.useSSL ? 443 : 80);
      }
      this.port = Number(this.port);
      if (settings.extraParams) { this.extraParams = settings.extraParams; }

      this.channels = {};
      this.channelsCount = 0;
      this._started = {}; // channels a connection has opened with: no backtrack any more
      this.readyState = CLOSED;
      this.wrapper = null;
      this.onmessage = null;
      this.onstatuschange = null;
      this.onerror = null;
      this.onchanneldeleted = null;

      // Where the next connection resumes: the last tag, time and event id received.
      this._lastTag = null;
      this._lastTime = null;
      this._lastEventId = this.lastEventId || null;
      const after = this.messagesPublishedAfter;
      if (after) {
        const date = after instanceof Date ? after : new Date(Date.now() - Number(after) * 1000);
        this._lastTime = httpDate(date);
      }

      this._keepConnected = false;
      this._reconnectTimer = null;
      this._modeIndex = 0;
      this._failedModes = 0;

      this.wrappers = [];
      for (const mode of String(this.modes).split("|")) {
        const Wrapper = WRAPPERS[mode.trim()];
        if (!Wrapper) { log.error("unknown mode", mode); continue; }
        if (!Wrapper.supported()) { log.info(mode, "is not supported by this browser"); continue; }
        this.wrappers.push(new Wrapper(this));
      }
    }

    /* the public API */

    extraParams() { return {}; }

    addChannel(channel, options) {
      channel = String(channel);
      if (!channel || escapeText(channel) !== channel || channel.indexOf("/") >= 0) {
        throw new Error("Invalid channel name! Channel has to be a set of [a-zA-Z0-9]");
      }
      if (this.channels[channel] !== undefined) {
        throw new Error(`Cannot add channel ${channel}: already subscribed`);
      }
      this.channels[channel] = options || {};
      this.channelsCount++;
      log.info("channel added", channel);
      if (this.readyState !== CLOSED) { this.connect(); }
    }

    // Removing a channel takes effect on the next connection; until then its messages are
    // dropped here. The module's client does the same.
    removeChannel(channel) {
      if (this.channels[channel] !== undefined) {
        delete this.channels[channel];
        delete this._started[channel];
        this.channelsCount--;
      }
    }

    removeAllChannels() {
      this.channels = {};
      this._started = {};
      this.channelsCount = 0;
    }

    connect() {
      if (!this.host) { throw new Error("PushStream host not specified"); }
      if (isNaN(this.port)) { throw new Error("PushStream port not specified"); }
      if (!this.channelsCount) { throw new Error("No channels specified"); }
      if (this.wrappers.length === 0) { throw new Error("No available support for this browser"); }
      this._keepConnected = true;
      this._modeIndex = 0;
      this._failedModes = 0;
      this._connect();
    }

    disconnect() {
      this._keepConnected = false;
      this._disconnect();
      this._setState(CLOSED);
      log.info("disconnected");
    }

    // Over the WebSocket when one is open, else POSTed to the publisher location (to the first
    // channel). The text is escaped, as the module's client sends it; receivers unescape it.
    sendMessage(message, successCallback, errorCallback) {
      const text = escapeText(message);
      if (this.wrapper && this.wrapper.type === WebSocketWrapper.TYPE && this.wrapper.isOpen()) {
        this.wrapper.send(text);
        if (successCallback) { successCallback(); }
        return;
      }
      post(this._publisherUrl(), text, successCallback, errorCallback);
    }

    /* internals */

    _setState(state) {
      if (this.readyState === state) { return; }
      this.readyState = state;
      log.info("status changed", state);
      if (this.onstatuschange) { this.onstatuschange(state); }
    }

    _connect() {
      this._reconnectTimer = clear(this._reconnectTimer);
      if (this.wrapper) { this.wrapper.close(); }
      this._setState(CONNECTING);
      this.wrapper = this.wrappers[this._modeIndex % this.wrappers.length];
      log.info("connecting with", this.wrapper.type);
      try {
        this.wrapper.connect();
      } catch (e) {
        log.error("could not connect with", this.wrapper.type, e);
        this._onerror({type: "load"});
      }
    }

    _disconnect() {
      this._reconnectTimer = clear(this._reconnectTimer);
      if (this.wrapper) { this.wrapper.close(); }
    }

    _reconnect(delay) {
      if (!this._keepConnected || !this.autoReconnect || this._reconnectTimer) { return; }
      log.info("reconnecting in", delay, "ms");
      this._reconnectTimer = window.setTimeout(() => {
        this._reconnectTimer = null;
        if (this._keepConnected) { this._connect(); }
      }, delay);
    }

    // Called by the transports.

    _onopen() {
      this._failedModes = 0; // this mode works: keep it for the next connections
      for (const name of Object.keys(this.channels)) { this._started[name] = true; }
      this._setState(OPEN);
    }

    // The server ended a connection that was open (a TTL, a deleted channel, a restart).
    _onclose() {
      this._setState(CLOSED);
      this._reconnect(this.reconnectOnTimeoutInterval);
    }

    // {type: "load"}: could not connect (a refused channel, a server that is not there);
    // {type: "timeout"}: an open connection was lost. The next mode is tried at once after a
    // "load" failure, until every mode has failed once.
    _onerror(error) {
      this._setState(CLOSED);
      let delay = this.reconnectOnTimeoutInterval;
      if (error.type === "load") {
        this._failedModes++;
        this._modeIndex++;
        delay = this._failedModes < this.wrappers.length ? 0 : this.reconnectOnChannelUnavailableInterval;
        if (this._failedModes >= this.wrappers.length) { this._failedModes = 0; }
      }
      this._reconnect(delay);
      if (this.onerror) { this.onerror(error); }
    }

    // Every message, parsed: pings (id -1) and long-poll timeouts (id -3) are dropped, a deleted
    // channel (id -2) goes to onchanneldeleted.
    _onmessage(message, isLastMessageFromBatch) {
      const id = message.id;
      if (id === -2) {
        if (this.onchanneldeleted) { this.onchanneldeleted(message.channel); }
        return;
      }
      if (id !== undefined && !(id > 0)) { return; }
      if (message.channel !== undefined && this.channels[message.channel] === undefined) { return; }
      if (message.time) {
        this._lastTime = message.time;
        this._lastTag = message.tag;
      }
      if (message.eventid) { this._lastEventId = message.eventid; }
      if (this.onmessage) {
        this.onmessage(message.text, id, message.channel, message.eventid,
          isLastMessageFromBatch, message.time, message.eventtype);
      }
    }

    _parse(data) {
      // not the JSON template (a ~text~ template, a header template): the text as it came
      const raw = {id: undefined, channel: undefined, text: data, tag: undefined, time: undefined,
        eventid: "", eventtype: ""};
      let msg = data;
      if (isString(data)) {
        if (!data.trim()) { return null; }
        try { msg = JSON.parse(data); } catch (e) { return raw; }
        if (!msg || typeof msg !== "object") { return raw; }
      }
      if (!msg || typeof msg !== "object") { return null; }
      const id = msg[this.jsonIdKey];
      const text = msg[this.jsonTextKey];
      return {
        id: id === undefined ? undefined : Number(id),
        channel: msg[this.jsonChannelKey],
        text: isString(text) ? unescapeText(text) : text,
        tag: msg[this.jsonTagKey],
        time: msg[this.jsonTimeKey],
        eventid: msg[this.jsonEventIdKey] || "",
        eventtype: msg[this.jsonEventTypeKey] || "",
      };
    }

    // "/ch1.b5/ch2": a channel's backtrack is asked until a connection with it has opened, so
    // that a reconnection does not get the same old messages again (it resumes by tag and time).
    _channelsPath() {
      return Object.keys(this.channels).map((name) => {
        const backtrack = this._backtrack(name);
        return "/" + name + (backtrack ? ".b" + backtrack : "");
      }).join("");
    }

    _backtrack(name) {
      const backtrack = Number(this.channels[name].backtrack);
      return backtrack > 0 && !this._started[name] ? backtrack : 0;
    }

    _controlParams() {
      const params = {};
      params[this.tagArgument] = this._lastTime ? this._lastTag : "";
      params[this.timeArgument] = this._lastTime || "";
      if (!this._lastTime && this._lastEventId) { params[this.eventIdArgument] = this._lastEventId; }
      return params;
    }

    _origin(websocket) {
      const scheme = websocket ? (this.useSSL ? "wss://" : "ws://") : (this.useSSL ? "https://" : "http://");
      const defaultPort = this.useSSL ? 443 : 80;
      return scheme + this.host + (this.port === defaultPort ? "" : ":" + this.port);
    }

    _subscriberUrl(prefix, params, websocket) {
      let url = this._origin(websocket) + prefix;
      const channels = this._channelsPath();
      const all = Object.assign({}, this.extraParams(), params);
      if (this.channelsByArgument) {
        all[this.channelsArgument] = channels.substring(1);
      } else {
        url += channels;
      }
      return addParams(url, all);
    }

    _publisherUrl() {
      const channel = Object.keys(this.channels)[0] || "";
      return this._origin(false) + this.urlPrefixPublisher + "?id=" + encodeURIComponent(channel);
    }

    _isCrossOrigin() {
      const location = window.location;
      const pagePort = Number(location.port || (location.protocol === "https:" ? 443 : 80));
      const pageSSL = location.protocol === "https:";
      return this.host !== location.hostname || this.port !== pagePort || this.useSSL !== pageSSL;
    }
  }

  PushStream.CLOSED = CLOSED;
  PushStream.CONNECTING = CONNECTING;
  PushStream.OPEN = OPEN;
  PushStream.LOG_LEVEL = "error"; // "debug", "info" or "error"
  PushStream.LOG_OUTPUT_ELEMENT_ID = "Log4jsLogOutput";

  // POST a message to a publisher location, escaped as sendMessage does.
  PushStream.sendMessage = function (url, message, successCallback, errorCallback) {
    post(url, escapeText(message), successCallback, errorCallback);
  };

  // Called by the forever iframe's header template: `parent.PushStream.register(this)`.
  PushStream.register = function (iframeWindow) {
    const frame = iframeWindow.window || iframeWindow;
    const match = /[?&]streamid=([0-9]*)/.exec(frame.location.href);
    const instance = instances[match ? Number(match[1] || 0) : 0];
    if (instance && instance.wrapper && instance.wrapper.type === StreamWrapper.TYPE) {
      instance.wrapper.register(frame);
    }
  };

  PushStream.unload = function () {
    for (const instance of instances) {
      try { instance.disconnect(); } catch (e) { /* closing anyway */ }
    }
  };

  const clear = (timer) => {
    if (timer) { window.clearTimeout(timer); }
    return null;
  };

  const post = (url, body, successCallback, errorCallback) => {
    const xhr = new window.XMLHttpRequest();
    xhr.open("POST", addParams(url, {_: Date.now()}), true);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Content-Type", "application/x-www-form-urlencoded");
    xhr.onreadystatechange = () => {
      if (xhr.readyState !== 4) { return; }
      if (xhr.status === 200) {
        if (successCallback) { successCallback(xhr.responseText); }
      } else if (errorCallback) {
        errorCallback(xhr.status);
      }
    };
    xhr.send(body);
  };

  /* ---- transports ------------------------------------------------------------------------- */

  // What every transport shares: its PushStream, a flag for "this connection was opened",
  // and a connect timeout (`timeout`).
  class Wrapper {
    constructor(pushstream) {
      this.pushstream = pushstream;
      this.opened = false;
      this.connectTimer = null;
    }

    static supported() { return true; }

    _startConnectTimer() {
      this.connectTimer = clear(this.connectTimer);
      this.connectTimer = window.setTimeout(() => this._fail("load"), this.pushstream.timeout);
    }

    _opened() {
      this.connectTimer = clear(this.connectTimer);
      this.opened = true;
      this.pushstream._onopen();
    }

    _deliver(data, isLast) {
      const message = this.pushstream._parse(data);
      if (message) { this.pushstream._onmessage(message, isLast); }
      return message;
    }

    // The connection failed ("load": never opened, or refused) or was lost ("timeout").
    _fail(type) {
      this.close();
      this.pushstream._onerror({type});
    }

    // The server ended an open connection normally.
    _ended() {
      this.close();
      this.pushstream._onclose();
    }
  }

  class WebSocketWrapper extends Wrapper {
    constructor(pushstream) {
      super(pushstream);
      this.type = WebSocketWrapper.TYPE;
      this.connection = null;
    }

    static supported() { return !!window.WebSocket; }

    connect() {
      this.close();
      const ps = this.pushstream;
      const params = Object.assign(ps._controlParams(), {_: Date.now()});
      const url = ps._subscriberUrl(ps.urlPrefixWebsocket, params, true);
      log.info("[WebSocket] connecting to", url);
      const ws = new window.WebSocket(url);
      this.connection = ws;
      this.opened = false;
      ws.onopen = () => {
        this.connectTimer = clear(this.connectTimer);
        this.connectTimer = window.setTimeout(() => this._opened(), OPEN_AFTER);
      };
      ws.onmessage = (event) => {
        if (!this.opened) { this._opened(); }
        this._deliver(event.data, true);
      };
      ws.onerror = () => log.info("[WebSocket] error");
      // 1008: the server refused the subscription after the handshake (a close frame with
      // {"http_status": 403, ...}); 1006: the connection was lost without a close frame.
      ws.onclose = (event) => {
        log.info("[WebSocket] closed", event.code, event.reason);
        if (!this.opened || event.code === 1008) { this._fail("load"); } else if (event.code === 1006) { this._fail("timeout"); } else { this._ended(); }
      };
      this._startConnectTimer();
    }

    isOpen() { return !!this.connection && this.connection.readyState === window.WebSocket.OPEN; }

    send(text) { this.connection.send(text); }

    close() {
      this.connectTimer = clear(this.connectTimer);
      const ws = this.connection;
      this.connection = null;
      if (ws) {
        ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
        try { ws.close(); } catch (e) { /* closing anyway */ }
      }
    }
  }
  WebSocketWrapper.TYPE = "WebSocket";

  class EventSourceWrapper extends Wrapper {
    constructor(pushstream) {
      super(pushstream);
      this.type = EventSourceWrapper.TYPE;
      this.connection = null;
    }

    static supported() { return !!window.EventSource; }

    connect() {
      this.close();
      const ps = this.pushstream;
      const params = Object.assign(ps._controlParams(), {_: Date.now()});
      const url = ps._subscriberUrl(ps.urlPrefixEventsource, params, false);
      log.info("[EventSource] connecting to", url);
      const source = new window.EventSource(url);
      this.connection = source;
      this.opened = false;
      // The browser's own reconnection asks the same URL again: fine unless it has a backtrack.
      const backtracks = Object.keys(ps.channels).some((name) => ps._backtrack(name) > 0);
      source.onopen = () => { if (!this.opened) { this._opened(); } else { ps._setState(OPEN); } };
      source.onmessage = (event) => {
        const message = ps._parse(event.data);
        if (!message) { return; }
        if (!message.eventid && event.lastEventId) {
          message.eventid = event.lastEventId;
        }
        ps._onmessage(message, true);
      };
      source.onerror = () => {
        if (!this.opened) { this._fail("load"); return; }
        if (source.readyState === window.EventSource.CLOSED) { this._fail("timeout"); return; }
        // The server ended the stream and the browser is about to reconnect by itself, to the
        // same URL, sending Last-Event-ID. With a time to resume from, or a backtrack in that URL
        // (the old messages again), reconnect here instead, with the tag and time arguments
        // (or the event id argument).
        if (ps._lastTime || backtracks) { this._ended(); } else { ps._setState(CONNECTING); }
      };
      this._startConnectTimer();
    }

    close() {
      this.connectTimer = clear(this.connectTimer);
      const source = this.connection;
      this.connection = null;
      if (source) {
        source.onopen = source.onmessage = source.onerror = null;
        try { source.close(); } catch (e) { /* closing anyway */ }
      }
    }
  }
  EventSourceWrapper.TYPE = "EventSource";

  // The forever iframe: a hidden iframe loads the stream location; its header template calls
  // parent.PushStream.register(this), then every message is a <script>p(id, channel, text, ...)
  // call. The iframe's load event means the server ended the stream.
  class StreamWrapper extends Wrapper {
    constructor(pushstream) {
      super(pushstream);
      this.type = StreamWrapper.TYPE;
      this.connection = null;
      this.pingTimer = null;
      this.waitForPage = null;
      this.iframeId = "PushStreamManager_" + pushstream.id;
    }

    connect() {
      this.close();
      this.opened = false;
      // An iframe added before the page's load event would hold that event back for as long
      // as the stream stays open: wait for the page first.
      if (document.readyState !== "complete") {
        this.waitForPage = () => { this.waitForPage = null; this._load(); };
        window.addEventListener("load", this.waitForPage);
        return;
      }
      this._load();
    }

    _load() {
      const ps = this.pushstream;
      // streamid tells PushStream.register() which instance the frame belongs to; the first
      // instance's is sent empty, as the module's client sends it
      const params = Object.assign(ps._controlParams(), {_: Date.now(), streamid: ps.id || ""});
      const url = ps._subscriberUrl(ps.urlPrefixStream, params, false);
      log.info("[Stream] connecting to", url);
      const iframe = document.createElement("iframe");
      iframe.id = this.iframeId;
      iframe.setAttribute("aria-hidden", "true");
      iframe.tabIndex = -1;
      iframe.style.cssText = "position:absolute;width:1px;height:1px;top:-10px;left:-10px;border:none;visibility:hidden;";
      // A load before register() is a refused or broken stream; after it, the end of the stream.
      iframe.onload = () => { if (this.opened) { this._ended(); } else { this._fail("load"); } };
      iframe.src = url;
      document.body.appendChild(iframe);
      this.connection = iframe;
      this._startConnectTimer();
    }

    register(frame) {
      if (!this.connection || this.connection.contentWindow !== frame) { return; } // an old frame
      frame.p = (id, channel, text, eventid, time, tag) => this._process(id, channel, text, eventid, time, tag);
      this._opened();
      this._setPingTimer();
    }

    _process(id, channel, text, eventid, time, tag) {
      this._setPingTimer();
      const ps = this.pushstream;
      ps._onmessage({
        id: Number(id), channel, text: unescapeText(text), tag, time,
        eventid: eventid || "", eventtype: "",
      }, true);
    }

    // Pings (id -1) keep the stream alive; none for `pingtimeout` means it is lost.
    _setPingTimer() {
      this.pingTimer = clear(this.pingTimer);
      this.pingTimer = window.setTimeout(() => this._fail("timeout"), this.pushstream.pingtimeout);
    }

    close() {
      this.connectTimer = clear(this.connectTimer);
      this.pingTimer = clear(this.pingTimer);
      if (this.waitForPage) {
        window.removeEventListener("load", this.waitForPage);
        this.waitForPage = null;
      }
      const iframe = this.connection;
      this.connection = null;
      if (iframe) {
        iframe.onload = null;
        try { iframe.src = "about:blank"; } catch (e) { /* removing anyway */ }
        if (iframe.parentNode) { iframe.parentNode.removeChild(iframe); }
      }
    }
  }
  StreamWrapper.TYPE = "Stream";

  // Long-polling: one request at a time, asked again after each answer. Same origin: XHR, the
  // position by headers (If-None-Match / If-Modified-Since from the last Etag / Last-Modified)
  // unless messagesControlByArgument. Across origins (or useJSONP): a <script> per request with a
  // callback argument, the position by tag and time arguments taken from the messages.
  class LongPollingWrapper extends Wrapper {
    constructor(pushstream) {
      super(pushstream);
      this.type = LongPollingWrapper.TYPE;
      this.active = false;
      this.xhr = null;
      this.script = null;
      this.callbackName = null;
      this.pollTimer = null;
      this.requestTimer = null;
      this.openTimer = null;
      this.etag = 0;
      this.lastModified = null;
      this.sequence = 0;
    }

    connect() {
      this.close();
      const ps = this.pushstream;
      const crossOrigin = ps._isCrossOrigin();
      this.useJSONP = ps.useJSONP || (crossOrigin && !ps._jsonpDisabled);
      // Etag is not readable across origins: a CORS long-poll keeps its position by argument.
      this.byHeaders = !ps.messagesControlByArgument && !this.useJSONP && !crossOrigin;
      // The position by headers: "If-Modified-Since: null" and "If-None-Match: 0" on the first
      // poll, as the module's client sends; after that the last Last-Modified and Etag, or the
      // last message's time and tag when the template has them.
      if (ps._lastTime) {
        this.lastModified = ps._lastTime;
        this.etag = ps._lastTag === undefined || ps._lastTag === null ? 0 : ps._lastTag;
      }
      this.opened = false;
      this.active = true;
      this._poll();
    }

    _poll() {
      this.pollTimer = clear(this.pollTimer);
      if (!this.active) { return; }
      const ps = this.pushstream;
      const params = Object.assign(ps._controlParams(), {_: Date.now()});
      if (this.byHeaders) {
        params[ps.tagArgument] = "";
        params[ps.timeArgument] = "";
      }
      const url = ps._subscriberUrl(ps.urlPrefixLongpolling, {}, false);
      if (this.useJSONP) { this._pollJSONP(url, params); } else { this._pollXHR(url, params); }
      if (!this.opened) {
        this.openTimer = clear(this.openTimer);
        this.openTimer = window.setTimeout(() => { if (this.active && !this.opened) { this._opened(); } }, OPEN_AFTER);
      }
    }

    _next(delay) {
      this.pollTimer = clear(this.pollTimer);
      if (this.active) { this.pollTimer = window.setTimeout(() => this._poll(), delay); }
    }

    _pollXHR(url, params) {
      const xhr = new window.XMLHttpRequest();
      this.xhr = xhr;
      xhr.open("GET", addParams(url, params), true);
      if (this.byHeaders) {
        xhr.setRequestHeader("If-None-Match", String(this.etag));
        xhr.setRequestHeader("If-Modified-Since", String(this.lastModified));
      }
      xhr.timeout = this.pushstream.timeout + 2000;
      // no answer in time: the long-poll is asked again
      xhr.ontimeout = () => { if (this.xhr === xhr) { this.xhr = null; this._next(0); } };
      // no answer at all: the server is not there, or the connection broke
      xhr.onerror = () => {
        if (this.xhr !== xhr) { return; }
        this.xhr = null;
        this._fail(this.opened ? "timeout" : "load");
      };
      xhr.onload = () => {
        if (this.xhr !== xhr) { return; }
        this.xhr = null;
        if (xhr.status === 200 || xhr.status === 304) {
          if (this.byHeaders) {
            this.etag = xhr.getResponseHeader("Etag") || this.etag;
            this.lastModified = xhr.getResponseHeader("Last-Modified") || this.lastModified;
          }
          if (!this.opened) { this._opened(); }
          if (xhr.status === 200) { this._received(xhr.responseText); } else { this._next(0); }
        } else {
          // 403: a channel refused; anything else: a broken server
          this._fail(xhr.status === 403 || !this.opened ? "load" : "timeout");
        }
      };
      xhr.send(null);
    }

    _pollJSONP(url, params) {
      const started = Date.now();
      const name = `PushStreamManager_${this.pushstream.id}_onmessage_${++this.sequence}`;
      let answered = false;
      window[name] = (messages) => {
        answered = true;
        if (!this.opened) { this._opened(); }
        this._received(messages);
      };
      this.callbackName = name;
      params.callback = name;
      const script = document.createElement("script");
      script.async = true;
      script.src = addParams(url, params);
      const done = (failed) => {
        if (this.script !== script) { return; }
        this._removeScript();
        if (answered) { return; } // the callback asked for the next poll
        const waited = Date.now() - started;
        // A long-poll that timed out is a 304 with no body: a script that fails after a long
        // wait. One that fails at once is a refused channel or a missing server.
        if (!failed || waited >= this.pushstream.timeout / 2) {
          if (!this.opened) { this._opened(); }
          this._next(0);
        } else {
          this._fail(this.opened ? "timeout" : "load");
        }
      };
      script.onload = () => done(false);
      script.onerror = () => done(true);
      this.script = script;
      this.requestTimer = clear(this.requestTimer);
      this.requestTimer = window.setTimeout(() => { if (this.script === script) { this._removeScript(); this._next(0); } }, this.pushstream.timeout + 2000);
      (document.head || document.getElementsByTagName("head")[0]).appendChild(script);
    }

    // An answer: a text with one or more JSON messages (XHR), or the array a JSONP callback got.
    _received(body) {
      const ps = this.pushstream;
      let items;
      if (Array.isArray(body)) {
        items = body;
      } else {
        items = splitJsonObjects(body);
        if (items.length === 0 && body.trim()) { items = [body]; }
      }
      const messages = items.map((item) => ps._parse(item)).filter((message) => message);
      this._next(LONGPOLLING_INTERVAL);
      messages.forEach((message, index) => ps._onmessage(message, index === messages.length - 1));
    }

    _removeScript() {
      this.requestTimer = clear(this.requestTimer);
      const script = this.script;
      this.script = null;
      if (script) {
        script.onload = script.onerror = null;
        if (script.parentNode) { script.parentNode.removeChild(script); }
      }
      if (this.callbackName) {
        // a late answer to a poll given up on is swallowed
        window[this.callbackName] = function () {};
        this.callbackName = null;
      }
    }

    close() {
      this.active = false;
      this.connectTimer = clear(this.connectTimer);
      this.pollTimer = clear(this.pollTimer);
      this.openTimer = clear(this.openTimer);
      const xhr = this.xhr;
      this.xhr = null;
      if (xhr) {
        try { xhr.abort(); } catch (e) { /* closing anyway */ }
      }
      this._removeScript();
    }
  }
  LongPollingWrapper.TYPE = "LongPolling";

  const WRAPPERS = {
    websocket: WebSocketWrapper,
    eventsource: EventSourceWrapper,
    stream: StreamWrapper,
    longpolling: LongPollingWrapper,
  };

  window.PushStream = PushStream;
  window.PushStreamManager = instances;
  window.addEventListener("pagehide", PushStream.unload);
})(window, document);
