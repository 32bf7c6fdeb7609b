// Live websocket client: snapshot then events, resume from the last event id, reconnect
// with exponential backoff (full jitter, honouring the server's retry hint), answer pings,
// and match acks/errors to requests.

const SUBPROTOCOL = "atexpert.v1";
const FATAL = new Set([4401, 4403, 4404, 4400]);
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 15000;

/** The wait before reconnecting: full jitter over an exponential ceiling, and at least
 * the `retry_after=<s>` a refusing server put in the close reason. */
export function reconnectDelay(attempt, reason, random = Math.random) {
  const delay = random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  const hint = /retry_after=(\d+)/.exec(reason || "");
  return hint ? Math.max(delay, Number(hint[1]) * 1000) : delay;
}

export class LiveSocket {
  /**
   * handlers: onSnapshot(msg), onEvent(msg), onPresence(msg), onStatus(state, detail),
   * onUnsolicitedError(msg). state is "connecting", "open", "closed" or "stopped".
   */
  constructor(sessionId, role, handlers) {
    this.sessionId = sessionId;
    this.role = role;
    this.handlers = handlers;
    this.lastId = null;
    this.ws = null;
    this.attempt = 0;
    this.pending = new Map();
    this.counter = 0;
    this.stopped = false;
    this.timer = null;
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const base = `${scheme}//${location.host}/ws/sessions/${encodeURIComponent(this.sessionId)}`;
    const after = this.lastId ? `?after=${encodeURIComponent(this.lastId)}` : "";
    return `${base}/${this.role}${after}`;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, "bye");
  }

  connect() {
    this.status("connecting");
    const ws = new WebSocket(this.url(), [SUBPROTOCOL]);
    this.ws = ws;
    ws.addEventListener("open", () => this.status("open"));
    ws.addEventListener("message", (event) => this.receive(event.data));
    ws.addEventListener("close", (event) => this.closed(ws, event));
  }

  closed(ws, event) {
    if (this.ws !== ws) return;
    this.ws = null;
    for (const { reject } of this.pending.values()) reject(new SocketError("disconnected", ""));
    this.pending.clear();
    if (this.stopped) return this.status("stopped");
    if (FATAL.has(event.code)) {
      if (event.code === 4400) this.lastId = null; // a bad resume point: start afresh
      else return this.status("stopped", { code: event.code, reason: event.reason });
    }
    const delay = reconnectDelay(this.attempt, event.reason);
    this.attempt += 1;
    this.status("closed", { code: event.code, reason: event.reason, retryIn: delay });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  status(state, detail) {
    if (this.handlers.onStatus) this.handlers.onStatus(state, detail || {});
  }

  receive(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    switch (msg.type) {
      case "snapshot":
        this.attempt = 0; // served: a refusal or a crash closes before this
        this.lastId = msg.last_event_id;
        this.handlers.onSnapshot(msg);
        break;
      case "event":
        this.attempt = 0;
        this.lastId = msg.id;
        this.handlers.onEvent(msg);
        break;
      case "resync":
        this.lastId = null; // the snapshot that follows replaces everything
        break;
      case "ping":
        this.attempt = 0;
        if (this.lastId) this.lastId = msg.last_event_id; // everything up to it has come
        this.send({ type: "pong" });
        break;
      case "presence":
        if (this.handlers.onPresence) this.handlers.onPresence(msg);
        break;
      case "ack":
        this.settle(msg.request_id, (p) => p.resolve(msg));
        break;
      case "error":
        if (!this.settle(msg.request_id, (p) => p.reject(new SocketError(msg.code, msg.detail)))) {
          if (this.handlers.onUnsolicitedError) this.handlers.onUnsolicitedError(msg);
        }
        break;
      default:
        break;
    }
  }

  settle(requestId, how) {
    const entry = requestId ? this.pending.get(requestId) : null;
    if (!entry) return false;
    this.pending.delete(requestId);
    how(entry);
    return true;
  }

  send(body) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(body));
    return true;
  }

  /** Send a command; resolves with its ack, rejects with a SocketError. */
  request(body) {
    this.counter += 1;
    const requestId = `r${Date.now().toString(36)}${this.counter}`;
    return new Promise((resolve, reject) => {
      if (!this.send({ ...body, request_id: requestId })) {
        reject(new SocketError("disconnected", ""));
        return;
      }
      this.pending.set(requestId, { resolve, reject });
    });
  }
}

export class SocketError extends Error {
  constructor(code, detail) {
    super(detail || code);
    this.code = code;
    this.detail = detail;
  }
}
