/**
 * The page's stylesheet and script, inlined into `GET /` under a nonce (no
 * build step). The script renders nothing itself: it fetches the server's
 * own fragments (the overview, a card) and puts them in place, so what it
 * shows is what a reload shows.
 *
 * @module
 */

/** The stylesheet. */
export const PAGE_STYLE: string = `
:root {
  color-scheme: light;
  --ink: #1c2230; --muted: #5a6272; --line: #d9dce3; --paper: #ffffff; --ground: #f3f4f7;
  --m: #fbd3cd; --m-ink: #74180d; --m-edge: #c9402d;
  --hs: #d3e4ff; --hs-ink: #0f3766;
  --vs: #cdeed6; --vs-ink: #124f26;
  --refused: #ffe38f; --refused-edge: #b88a00;
  --drift: #ffd6d6; --drift-ink: #7a0000; --drift-edge: #d01c1c; --odd: #eadcff; --odd-edge: #7a4bc2;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--ground); color: var(--ink); }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.page-head { background: var(--ink); color: #fff; padding: 0.9rem 1.5rem; display: flex;
  flex-wrap: wrap; gap: 0.5rem 2rem; align-items: baseline; }
.page-head h1 { margin: 0; font-size: 1.3rem; }
.page-head h1 span { font-weight: 400; opacity: 0.75; margin-left: 0.4rem; }
.system { display: flex; flex-wrap: wrap; gap: 0.2rem 1.2rem; margin: 0; }
.system div { display: flex; gap: 0.35rem; }
.system dt { opacity: 0.7; }
.system dd { margin: 0; font-weight: 600; }
main { padding: 1rem 1.5rem 2rem; }
.legend { background: var(--paper); border: 1px solid var(--line); border-radius: 8px;
  padding: 0.5rem 1rem; margin-bottom: 1rem; }
.legend ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.4rem 1.4rem; }
.legend li { display: flex; align-items: center; gap: 0.4rem; font-size: 0.85rem; }
.swatch { display: inline-block; min-width: 3.2rem; text-align: center; border-radius: 4px;
  padding: 0 0.3rem; font: 600 0.8rem ui-monospace, Menlo, Consolas, monospace; }
.hart { background: var(--paper); border: 1px solid var(--line); border-radius: 8px; padding: 0.8rem 1rem 1rem; }
.hart[aria-busy="true"] { opacity: 0.7; }
.hart-head { display: flex; align-items: center; gap: 0.6rem; flex-wrap: wrap; }
.hart-head h2 { margin: 0; font-size: 1.15rem; }
.badge { border-radius: 999px; padding: 0.05rem 0.6rem; font-size: 0.8rem; font-weight: 600; }
.state-enabled { background: var(--vs); color: var(--vs-ink); }
.state-initialized { background: var(--hs); color: var(--hs-ink); }
.state-disabled { background: #e3e5ea; color: #363d4b; }
.h-yes { background: #eef0f4; color: var(--muted); }
.actions { margin-left: auto; display: flex; gap: 0.4rem; }
button { font: inherit; font-size: 0.85rem; padding: 0.2rem 0.8rem; border-radius: 6px;
  border: 1px solid #8a93a5; background: #fff; color: var(--ink); cursor: pointer; }
button:hover:not(:disabled) { background: #eef1f7; }
button:focus-visible { outline: 3px solid #5b8def; outline-offset: 1px; }
button:disabled { opacity: 0.45; cursor: default; }
table { border-collapse: collapse; width: 100%; margin-top: 0.6rem; }
caption { text-align: left; font-weight: 600; font-size: 0.85rem; padding-bottom: 0.2rem; color: var(--muted); }
th, td { text-align: left; vertical-align: top; padding: 0.18rem 0.4rem; border-bottom: 1px solid var(--line);
  font-size: 0.82rem; }
thead th { font-size: 0.75rem; text-transform: uppercase; letter-spacing: 0.03em; color: var(--muted); }
.csrs td code { white-space: nowrap; }
.csrs tbody th { border-bottom: 1px solid var(--line); }
.csrs tr:first-child td { border-bottom: 0; padding-bottom: 0; }
.csrs tr.bits td { padding-top: 0.1rem; padding-bottom: 0.35rem; }
.csrs [data-field="value"] code { font-weight: 700; }
.chips { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.15rem; }
.chips li { background: #eef0f4; border-radius: 3px; padding: 0 0.25rem; font: 0.68rem ui-monospace, Menlo, Consolas, monospace; }
.chips li.refused, mark.refused { background: var(--refused); box-shadow: inset 0 0 0 1px var(--refused-edge); color: var(--ink); }
mark.refused { padding: 0 0.25rem; border-radius: 3px; }
.bitpos { display: block; font-size: 0.75rem; color: var(--muted); }
.none { color: var(--muted); }
details { margin-top: 0.6rem; }
summary { cursor: pointer; font-weight: 600; font-size: 0.9rem; }
.routes th[scope="row"] { font-weight: 400; }
.routes .name { font: 0.72rem ui-monospace, Menlo, Consolas, monospace; }
.routes tbody th[scope="rowgroup"] { background: #f7f8fa; font-size: 0.75rem; text-transform: uppercase; color: var(--muted); }
td.route { text-align: center; font: 600 0.78rem ui-monospace, Menlo, Consolas, monospace; white-space: nowrap; }
.to-M { background: var(--m); color: var(--m-ink); }
.to-HS { background: var(--hs); color: var(--hs-ink); }
.to-VS { background: var(--vs); color: var(--vs-ink); }
.via-M { box-shadow: inset 5px 0 0 var(--m-edge); }
td.pending { opacity: 0.5; font-weight: 400; }
td.na { background: transparent; color: var(--muted); font-weight: 400; }
#status { position: fixed; bottom: 1rem; right: 1.5rem; margin: 0; padding: 0.4rem 0.8rem;
  border-radius: 6px; background: var(--ink); color: #fff; font-size: 0.85rem; }
#status:empty { display: none; }
#status.error { background: #9b1c1c; }
.legend summary { font-size: 0.95rem; }
#overview { background: var(--paper); border: 1px solid var(--line); border-radius: 8px;
  padding: 0.6rem 1rem 0.8rem; margin-bottom: 1rem; }
#overview h2 { font-size: 1.1rem; margin: 0 0 0.3rem; }
.summary { margin: 0 0 0.3rem; font-size: 0.9rem; }
.marked { margin: 0 0 0.4rem; padding-left: 1.2rem; font-size: 0.85rem; }
.marked ul { display: inline; padding: 0; }
.marked ul li { display: inline; }
.marked ul li + li::before { content: "; "; }
.grid-scroll { overflow: auto; max-height: 70vh; }
table.grid { margin-top: 0.3rem; }
table.grid th, table.grid td { white-space: nowrap; font: 0.8rem ui-monospace, Menlo, Consolas, monospace; }
table.grid thead th { position: sticky; top: 0; background: var(--paper); z-index: 1; font-family: inherit; }
table.grid thead tr.asked th, table.grid thead tr.asked td { position: sticky; top: 1.6rem;
  background: #f7f8fa; color: var(--muted); }
table.grid tbody th { font-weight: 600; white-space: normal; min-width: 8rem; }
table.grid .count { color: var(--muted); font-weight: 400; }
table.grid td[class^="state-"] { font-family: inherit; font-weight: 600; }
table.grid tbody tr:hover { background: #f7f8fa; }
td.drift, .swatch.drift, span.drift { background: var(--drift); color: var(--drift-ink); font-weight: 700;
  box-shadow: inset 0 0 0 2px var(--drift-edge); }
td.refused, .swatch.refused, span.refused { background: var(--refused); box-shadow: inset 0 0 0 1px var(--refused-edge); }
td.odd, .swatch.odd, span.odd { background: var(--odd); box-shadow: inset 0 0 0 1px var(--odd-edge); }
.marked span.drift, .marked span.refused, .marked span.odd { padding: 0 0.25rem; border-radius: 3px; }
#detail { margin-bottom: 1rem; }
.hint { color: var(--muted); margin: 0.3rem 0 0; }
.open-hart { margin: 0 0 1rem; font-size: 0.9rem; }
.open-hart input, .vcpu-row input { width: 6rem; font: inherit; padding: 0.1rem 0.3rem; }
.vcpu-row { display: flex; flex-wrap: wrap; gap: 0.4rem 0.8rem; align-items: center; margin-top: 0.5rem;
  font-size: 0.9rem; }
#connection { margin: 0 0 1rem; padding: 0.5rem 0.8rem; border-radius: 6px; background: #9b1c1c;
  color: #fff; font-weight: 600; }
#connection[hidden] { display: none; }
`;

/**
 * The script. It never renders a value itself: after a button press it
 * POSTs to the JSON API, then fetches the card and the overview the server
 * renders (`/fragments/…`) and puts them in place; a hart link opens the
 * card the same way. Every second it asks `GET /api/generation` whether
 * anything changed (through any client), redraws when it did, and says
 * when the server or its backend does not answer. Its requests are
 * same-origin, so when the server has a token the session cookie set by
 * `/?token=` carries it; the script never sees the token.
 */
export const PAGE_SCRIPT: string = String.raw`
"use strict";
(() => {
  const POLL_MS = 1000;
  const status = document.getElementById("status");
  const connection = document.getElementById("connection");

  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
  }

  function lost(text) {
    connection.hidden = text === "";
    connection.textContent = text;
    document.documentElement.dataset.connection = text === "" ? "ok" : "lost";
  }

  async function request(method, url, body) {
    const init = { method, headers: { Accept: "application/json, text/html" } };
    if (method === "POST") {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    const json = (response.headers.get("Content-Type") || "").includes("json");
    const answer = json ? await response.json() : await response.text();
    if (!response.ok) {
      const error = new Error(json && answer.error ? answer.error.message : response.statusText);
      error.status = response.status;
      throw error;
    }
    return answer;
  }

  function swap(id, markup) {
    const template = document.createElement("template");
    template.innerHTML = markup;
    const next = template.content.firstElementChild;
    if (next && next.id === id) document.getElementById(id).replaceWith(next);
  }

  function openId() {
    const card = document.querySelector("#detail article[data-hart]");
    return card ? card.dataset.hart : undefined;
  }

  async function redraw() {
    const id = openId();
    const [grid, card] = await Promise.all([
      request("GET", "fragments/grid"),
      id === undefined ? undefined : request("GET", "fragments/harts/" + id),
    ]);
    swap("overview", grid);
    if (card !== undefined) swap("detail", card);
  }

  async function open(id) {
    try {
      swap("detail", await request("GET", "fragments/harts/" + id));
      history.replaceState(null, "", "?hart=" + id);
      document.getElementById("hart-" + id).scrollIntoView({ block: "nearest" });
    } catch (error) {
      say(String(error.message || error), true);
    }
  }

  async function act(button) {
    const id = button.dataset.hart;
    const action = button.dataset.action;
    const card = document.getElementById("hart-" + id);
    const body = {};
    if (action === "vcpu/bind") body.vm = Number(card.querySelector("input[name=vm]").value);
    card.setAttribute("aria-busy", "true");
    for (const b of card.querySelectorAll("button")) b.disabled = true;
    try {
      const hart = await request("POST", "api/harts/" + id + "/" + action, body);
      const vcpu = hart.vcpu ? "; vCPU: VM " + hart.vcpu.vm + ", " + hart.vcpu.state : "";
      say("Hart " + id + " is " + hart.state + vcpu, false);
    } catch (error) {
      say(String(error.message || error), true);
    }
    try {
      await redraw();
    } catch (error) {
      say(String(error.message || error), true);
    }
  }

  document.addEventListener("click", (event) => {
    const target = event.target.closest(
      'a[href^="?hart="], button[data-action], button[data-open-input]',
    );
    if (!target) return;
    if (target.matches("a")) {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      open(target.getAttribute("href").slice("?hart=".length));
    } else if (target.matches("button[data-action]")) {
      act(target);
    } else {
      const value = document.getElementById("open-hart").value;
      if (/^[0-9]+$/.test(value)) open(value);
    }
  });

  async function poll() {
    try {
      const { generation } = await request("GET", "api/generation");
      lost("");
      if (generation !== document.getElementById("overview").dataset.generation) await redraw();
    } catch (error) {
      const why = error.status === undefined ? "The server does not answer" : error.message;
      lost(why + "; the values shown are the last read.");
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  for (const hidden of document.querySelectorAll(".open-hart")) hidden.hidden = false;
  document.documentElement.dataset.ready = "true";
  setTimeout(poll, POLL_MS);
})();
`;
