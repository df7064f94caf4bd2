/**
 * tvirt's web page: the guest list (live through the API's lifecycle events), a guest page
 * (XML shown, checked, diffed and saved; disks and interfaces) and its two consoles — serial
 * through xterm.js, graphical through noVNC — over ticketed WebSockets (src/web/consoles.ts).
 *
 * The bearer token lives in sessionStorage only (never a cookie, so nothing rides along on a
 * forged cross-site request); events come through fetch streaming, which can carry the header
 * that EventSource cannot.
 */
import RFB from "@novnc/novnc";
import { Terminal } from "@xterm/xterm";

interface Summary {
  name: string;
  uuid: string;
  id: number | null;
  state: string;
  vcpus: number;
  memoryKiB: number;
  maxMemoryKiB: number;
  persistent: boolean;
}

interface ApiError {
  code?: string;
  message?: string;
  details?: { xpath?: string };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiError,
  ) {
    super(body.message ?? `HTTP ${String(status)}`);
  }
}

const TOKEN_KEY = "tvirt.token";
const ACTIONS = ["start", "shutdown", "reboot", "destroy", "suspend", "resume"] as const;
/** Which actions a state allows (the others are shown disabled). */
const ALLOWED: Record<string, readonly string[]> = {
  running: ["shutdown", "reboot", "destroy", "suspend"],
  paused: ["destroy", "resume"],
  shutoff: ["start"],
  crashed: ["start", "destroy"],
  pmsuspended: ["destroy"],
};

/** What tests and benches look at (the page itself does not need it). */
interface Hooks {
  term?: Terminal;
  rfb?: RFB;
  vncConnected: boolean;
  readOnly: boolean;
  listRenders: number;
  onSerialWritten?: () => void;
}
const hooks: Hooks = { vncConnected: false, readOnly: false, listRenders: 0 };
(window as unknown as { tvirt: Hooks }).tvirt = hooks;

const $ = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

function status(text: string): void {
  $("status").textContent = text;
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${token() ?? ""}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 204) return undefined as T;
  const json = (await res.json().catch(() => ({}))) as T & ApiError;
  if (!res.ok) {
    if (res.status === 401) logout("The token was refused: " + (json.message ?? ""));
    throw new HttpError(res.status, json);
  }
  return json;
}

function errorText(e: unknown): string {
  if (e instanceof HttpError) {
    const xpath = e.body.details?.xpath;
    return `${e.message}${xpath !== undefined ? ` (at ${xpath})` : ""}`;
  }
  return e instanceof Error ? e.message : String(e);
}

// --- login ------------------------------------------------------------------------------------

function logout(why = ""): void {
  sessionStorage.removeItem(TOKEN_KEY);
  stopEvents();
  showLogin(why);
}

function showLogin(why: string): void {
  $("logout").hidden = true;
  const input = el("input", { type: "password", id: "token", autocomplete: "off", placeholder: "token" });
  const form = el(
    "form",
    { class: "login" },
    el("h2", {}, "Log in"),
    el(
      "p",
      { class: "muted" },
      "Paste a token made by ",
      el("code", {}, "tvirsh web-token create --token-file FILE NAME"),
      ". It is kept in this tab only (sessionStorage).",
    ),
    input,
    el("p", {}, el("button", { type: "submit" }, "Log in")),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    void start();
  });
  $("main").replaceChildren(form);
  status(why);
}

// --- the list and its events -------------------------------------------------------------------

const domains = new Map<string, Summary>();
let eventsAbort: AbortController | undefined;

function stopEvents(): void {
  eventsAbort?.abort();
  eventsAbort = undefined;
  $("live").classList.remove("on");
}

/** Reads the SSE stream with fetch (it carries the Authorization header); reconnects after errors. */
async function watchEvents(): Promise<void> {
  stopEvents();
  const ac = new AbortController();
  eventsAbort = ac;
  // A function: the signal changes while this loop awaits (narrowing would say it cannot).
  const stopped = (): boolean => ac.signal.aborted;
  while (!stopped()) {
    try {
      const res = await fetch("/api/events", {
        headers: { authorization: `Bearer ${token() ?? ""}` },
        signal: ac.signal,
      });
      if (!res.ok || !res.body) throw new Error(`events: HTTP ${String(res.status)}`);
      $("live").classList.add("on");
      $("live").textContent = "● live";
      // Whatever changed while not subscribed.
      await refreshAll();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (data !== undefined)
            onLifecycle(JSON.parse(data) as { domain: { name: string }; event: string });
        }
      }
    } catch {
      // aborted, or the server went away: retry below
    }
    $("live").classList.remove("on");
    $("live").textContent = "○ events";
    if (!stopped()) await new Promise((r) => setTimeout(r, 2000));
  }
}

function onLifecycle(ev: { domain: { name: string }; event: string }): void {
  void refreshOne(ev.domain.name);
}

async function refreshAll(): Promise<void> {
  const { domains: list } = await api<{ domains: Summary[] }>("GET", "/api/domains");
  domains.clear();
  for (const d of list) domains.set(d.name, d);
  render();
}

async function refreshOne(name: string): Promise<void> {
  try {
    const { domain } = await api<{ domain: Summary }>("GET", `/api/domains/${encodeURIComponent(name)}`);
    domains.set(name, domain);
  } catch (e) {
    if (e instanceof HttpError && e.status === 404) domains.delete(name);
    else throw e;
  }
  render();
}

function fmtMemory(kib: number): string {
  return kib >= 1024 * 1024
    ? `${(kib / 1024 / 1024).toFixed(1)} GiB`
    : `${String(Math.round(kib / 1024))} MiB`;
}

function actionButtons(d: Summary): HTMLElement {
  const span = el("span", { class: "actions" });
  for (const a of ACTIONS) {
    const b = el("button", { "data-action": a }, a);
    b.disabled = hooks.readOnly || !(ALLOWED[d.state] ?? []).includes(a);
    b.addEventListener("click", () => {
      status("");
      api<{ domain: Summary }>("POST", `/api/domains/${encodeURIComponent(d.name)}/${a}`).then(
        (r) => {
          domains.set(d.name, r.domain);
          render();
        },
        (e: unknown) => {
          status(`${a} ${d.name}: ${errorText(e)}`);
        },
      );
    });
    span.append(b);
  }
  return span;
}

function stateCell(d: Summary): HTMLElement {
  return el("span", { class: `state state-${d.state}`, "data-field": "state" }, d.state);
}

function renderList(): void {
  const rows = [...domains.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((d) =>
      el(
        "tr",
        { "data-domain": d.name },
        el("td", { class: "num" }, d.id === null ? "-" : String(d.id)),
        el("td", {}, el("a", { href: `#/domain/${encodeURIComponent(d.name)}` }, d.name)),
        el("td", {}, stateCell(d)),
        el("td", { class: "num", "data-field": "vcpus" }, String(d.vcpus)),
        el("td", { class: "num", "data-field": "memory" }, fmtMemory(d.memoryKiB)),
        el("td", {}, actionButtons(d)),
      ),
    );
  const table = el(
    "table",
    { id: "domains" },
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        el("th", {}, "Id"),
        el("th", {}, "Name"),
        el("th", {}, "State"),
        el("th", {}, "vCPUs"),
        el("th", {}, "Memory"),
        el("th", {}, ""),
      ),
    ),
    el("tbody", {}, ...rows),
  );
  $("main").replaceChildren(
    el("h2", {}, "Guests"),
    rows.length > 0 ? table : el("p", { class: "muted" }, "No guests defined."),
  );
  hooks.listRenders++;
}

// --- the guest page ----------------------------------------------------------------------------

let guestView: { name: string; close: () => void; update: () => void } | undefined;

function route(): { view: "list" } | { view: "domain"; name: string } {
  const m = /^#\/domain\/(.+)$/.exec(location.hash);
  return m?.[1] !== undefined ? { view: "domain", name: decodeURIComponent(m[1]) } : { view: "list" };
}

function render(): void {
  const r = route();
  if (r.view === "list") {
    if (guestView) {
      guestView.close();
      guestView = undefined;
    }
    renderList();
  } else if (guestView?.name === r.name) {
    guestView.update();
  } else {
    guestView?.close();
    guestView = openGuest(r.name);
  }
}

function wsUrl(path: string): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${path}`;
}

async function ticket(name: string, kind: "serial" | "vnc"): Promise<string> {
  const t = await api<{ url: string; readOnly: boolean }>("POST", "/api/tickets", { domain: name, kind });
  return wsUrl(t.url);
}

function openSerial(name: string, box: HTMLElement): () => void {
  const term = new Terminal({ cols: 80, rows: 24, fontSize: 13, cursorBlink: true, scrollback: 2000 });
  term.open(box);
  hooks.term = term;
  let ws: WebSocket | undefined;
  let closed = false;
  const enc = new TextEncoder();
  term.onData((d) => {
    if (!hooks.readOnly && ws?.readyState === WebSocket.OPEN) ws.send(enc.encode(d));
  });
  ticket(name, "serial").then(
    (url) => {
      if (closed) return;
      ws = new WebSocket(url);
      ws.binaryType = "arraybuffer";
      ws.onmessage = (ev) => {
        term.write(new Uint8Array(ev.data as ArrayBuffer), () => hooks.onSerialWritten?.());
      };
      ws.onclose = (ev) => {
        if (!closed)
          term.write(`\r\n\x1b[2m[serial console closed${ev.reason ? `: ${ev.reason}` : ""}]\x1b[0m\r\n`);
      };
    },
    (e: unknown) => {
      term.write(`[no serial console: ${errorText(e)}]\r\n`);
    },
  );
  return () => {
    closed = true;
    ws?.close();
    term.dispose();
    if (hooks.term === term) delete hooks.term;
  };
}

function openVnc(name: string, box: HTMLElement): () => void {
  let rfb: RFB | undefined;
  let closed = false;
  hooks.vncConnected = false;
  ticket(name, "vnc").then(
    (url) => {
      if (closed) return;
      const r = new RFB(box, url, { shared: true });
      rfb = r;
      hooks.rfb = r;
      r.viewOnly = hooks.readOnly;
      r.scaleViewport = true;
      r.addEventListener("connect", () => {
        hooks.vncConnected = true;
      });
      r.addEventListener("disconnect", () => {
        hooks.vncConnected = false;
        if (!closed) box.replaceChildren(el("p", { class: "muted" }, "display closed"));
      });
      r.addEventListener("credentialsrequired", () => {
        const password = prompt(`VNC password of ${name}`);
        if (password !== null) r.sendCredentials({ password });
      });
    },
    (e: unknown) => {
      box.replaceChildren(el("p", { class: "muted" }, `no display: ${errorText(e)}`));
    },
  );
  return () => {
    closed = true;
    rfb?.disconnect();
    if (hooks.rfb === rfb) delete hooks.rfb;
    hooks.vncConnected = false;
  };
}

/** A line diff (longest common subsequence), as `-`/`+`/` ` lines. */
export function lineDiff(a: string, b: string): { op: " " | "-" | "+"; line: string }[] {
  const x = a.split("\n");
  const y = b.split("\n");
  const n = x.length;
  const m = y.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: { op: " " | "-" | "+"; line: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) {
      out.push({ op: " ", line: x[i++]! });
      j++;
    } else if (j < m && (i >= n || lcs[i]![j + 1]! > lcs[i + 1]![j]!)) out.push({ op: "+", line: y[j++]! });
    else out.push({ op: "-", line: x[i++]! });
  }
  return out;
}

function devicesOf(xml: string): { disks: string[][]; nics: string[][] } {
  const doc = new DOMParser().parseFromString(xml, "application/xml");
  const attr = (e: Element, sel: string, name: string): string =>
    e.querySelector(sel)?.getAttribute(name) ?? "";
  const disks = [...doc.querySelectorAll("domain > devices > disk")].map((d) => [
    attr(d, "target", "dev"),
    d.getAttribute("device") ?? "disk",
    attr(d, "target", "bus"),
    attr(d, "driver", "type"),
    attr(d, "source", "file") || attr(d, "source", "dev") || attr(d, "source", "name") || "-",
  ]);
  const nics = [...doc.querySelectorAll("domain > devices > interface")].map((i) => [
    i.getAttribute("type") ?? "",
    attr(i, "mac", "address"),
    attr(i, "source", "network") || attr(i, "source", "bridge") || attr(i, "source", "dev") || "-",
    attr(i, "model", "type"),
    attr(i, "target", "dev") || "-",
  ]);
  return { disks, nics };
}

function table(id: string, head: string[], rows: string[][]): HTMLElement {
  if (rows.length === 0) return el("p", { class: "muted", id }, "none");
  return el(
    "table",
    { id },
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c))))),
  );
}

function openGuest(name: string): { name: string; close: () => void; update: () => void } {
  const head = el("div", { id: "guest-head" });
  const serialBox = el("div", { id: "serial" });
  const vncBox = el("div", { id: "vnc" });
  const devices = el("div", { id: "devices" });
  const textarea = el("textarea", { id: "xml", spellcheck: "false" });
  const diffOut = el("pre", { class: "diff", id: "xml-diff", hidden: "" });
  const result = el("pre", { class: "result", id: "xml-result", hidden: "" });
  const checkBtn = el("button", { id: "xml-check" }, "Check and diff");
  const saveBtn = el("button", { id: "xml-save" }, "Save");
  const revertBtn = el("button", { id: "xml-revert" }, "Revert");
  let original = "";
  let closers: (() => void)[] = [];
  let consolesFor = "";

  $("main").replaceChildren(
    el("p", {}, el("a", { href: "#/" }, "← all guests")),
    head,
    el(
      "section",
      { class: "consoles" },
      el("div", { class: "console" }, el("h2", {}, "Serial console"), serialBox),
      el("div", { class: "console" }, el("h2", {}, "Display (VNC)"), vncBox),
    ),
    el("section", {}, el("h2", {}, "Disks and interfaces"), devices),
    el(
      "section",
      {},
      el("h2", {}, "XML (persistent definition)"),
      textarea,
      el("p", {}, checkBtn, saveBtn, revertBtn),
      diffOut,
      result,
    ),
  );

  /** Well-formed, a <domain>, the same name: the server validates the rest when saving. */
  const check = (): string | null => {
    const doc = new DOMParser().parseFromString(textarea.value, "application/xml");
    const err = doc.querySelector("parsererror");
    if (err) return `not well-formed XML: ${err.textContent}`;
    if (doc.documentElement.nodeName !== "domain")
      return `the root element is <${doc.documentElement.nodeName}>, not <domain>`;
    const n = doc.querySelector("domain > name")?.textContent;
    if (n !== name) return `the XML names domain '${n ?? ""}', not '${name}' (rename is not an edit)`;
    return null;
  };
  const showDiff = (): boolean => {
    const problem = check();
    diffOut.hidden = false;
    if (problem !== null) {
      diffOut.replaceChildren(el("span", { class: "del" }, problem));
      return false;
    }
    const lines = lineDiff(original, textarea.value).filter((l, i, all) =>
      // Changed lines with two lines of context.
      all.slice(Math.max(0, i - 2), i + 3).some((x) => x.op !== " "),
    );
    diffOut.replaceChildren(
      ...(lines.length === 0
        ? ["no changes"]
        : lines.map((l) =>
            el("span", { class: l.op === "+" ? "add" : l.op === "-" ? "del" : "" }, `${l.op} ${l.line}\n`),
          )),
    );
    return true;
  };
  const loadXml = async (): Promise<void> => {
    const { xml } = await api<{ xml: string }>("GET", `/api/domains/${encodeURIComponent(name)}/xml`);
    original = xml;
    textarea.value = xml;
    const { disks, nics } = devicesOf(xml);
    devices.replaceChildren(
      el("h3", {}, "Disks"),
      table("disks", ["target", "device", "bus", "format", "source"], disks),
      el("h3", {}, "Interfaces"),
      table("nics", ["type", "mac", "source", "model", "host device"], nics),
    );
  };
  checkBtn.addEventListener("click", () => void showDiff());
  revertBtn.addEventListener("click", () => {
    textarea.value = original;
    diffOut.hidden = true;
  });
  saveBtn.addEventListener("click", () => {
    if (!showDiff()) return;
    result.hidden = false;
    result.textContent = "saving…";
    api<{ text: string }>("PUT", `/api/domains/${encodeURIComponent(name)}/xml`, {
      xml: textarea.value,
    }).then(
      async (r) => {
        // The stored XML first: the report is the sign that the editor holds it.
        await loadXml().catch(() => undefined);
        result.textContent = r.text;
        diffOut.hidden = true;
      },
      (e: unknown) => {
        result.textContent = `not saved: ${errorText(e)}`;
      },
    );
  });

  const update = (): void => {
    const d = domains.get(name);
    if (!d) {
      head.replaceChildren(el("h2", {}, name), el("p", { class: "muted" }, "no such guest (any more)"));
      return;
    }
    head.replaceChildren(
      el("h2", {}, `${d.name} `, stateCell(d)),
      el(
        "p",
        {},
        `${String(d.vcpus)} vCPU · ${fmtMemory(d.memoryKiB)} of ${fmtMemory(d.maxMemoryKiB)} · ${d.persistent ? "persistent" : "transient"} · `,
        actionButtons(d),
      ),
    );
    // Consoles follow the state: opened when the guest runs, dropped when it stops.
    const want = d.state === "running" || d.state === "paused" ? `${d.name}:${String(d.id)}` : "";
    if (want !== consolesFor) {
      for (const c of closers) c();
      closers = [];
      serialBox.replaceChildren();
      vncBox.replaceChildren();
      consolesFor = want;
      if (want !== "") closers = [openSerial(name, serialBox), openVnc(name, vncBox)];
      else {
        serialBox.append(el("p", { class: "muted" }, "not running"));
        vncBox.append(el("p", { class: "muted" }, "not running"));
      }
    }
  };
  loadXml().catch((e: unknown) => {
    status(`${name}: ${errorText(e)}`);
  });
  update();
  return {
    name,
    update,
    close: () => {
      for (const c of closers) c();
    },
  };
}

// --- start -------------------------------------------------------------------------------------

async function start(): Promise<void> {
  // A token handed over in the fragment (#token=...) is moved to sessionStorage and out of the URL.
  const m = /^#token=([^&]+)/.exec(location.hash);
  if (m?.[1] !== undefined) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search + "#/");
  }
  if (token() === null) {
    showLogin("");
    return;
  }
  try {
    const host = await api<{ uri: string; hostname: string }>("GET", "/api/host");
    $("host").textContent = `${host.uri} on ${host.hostname}`;
    // Probing the role: a read-only token gets a view-only ticket.
    const t = await api<{ readOnly: boolean }>("GET", "/api/whoami").catch(() => ({ readOnly: false }));
    hooks.readOnly = t.readOnly;
  } catch (e) {
    if (!(e instanceof HttpError && e.status === 401)) status(errorText(e));
    return;
  }
  $("logout").hidden = false;
  status("");
  await refreshAll();
  void watchEvents();
}

window.addEventListener("hashchange", render);
$("logout").addEventListener("click", () => {
  logout();
});
void start();
