/**
 * The page's stylesheet and script, inlined into `GET /` under a nonce (no
 * build step). The script mirrors view.ts's cell and bit rendering so a card
 * and its grid update in place after a button press; the browser test checks
 * that what it renders equals what the server renders after a reload.
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
.legend h2 { font-size: 0.95rem; margin: 0 0 0.3rem; }
.legend ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.4rem 1.4rem; }
.legend li { display: flex; align-items: center; gap: 0.4rem; font-size: 0.85rem; }
.swatch { display: inline-block; min-width: 3.2rem; text-align: center; border-radius: 4px;
  padding: 0 0.3rem; font: 600 0.8rem ui-monospace, Menlo, Consolas, monospace; }
.harts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 600px), 1fr)); gap: 1rem; }
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
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
`;

/**
 * The script: POSTs enable/disable with a JSON content type, then renders
 * the returned hart object into the card and the hart's routes into its grid.
 * Its requests are same-origin, so when the server has a token the session
 * cookie set by `/?token=` carries it; the script never sees the token.
 */
export const PAGE_SCRIPT: string = String.raw`
"use strict";
(() => {
  const ORIGINS = ["U", "HS", "VU", "VS"];
  const status = document.getElementById("status");

  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
  }

  function positions(hexText) {
    const value = BigInt(hexText);
    const out = [];
    for (let bit = 0; bit < 64; bit++) if ((value >> BigInt(bit)) & 1n) out.push(bit);
    return out;
  }

  function runs(numbers) {
    const parts = [];
    let start = 0;
    for (let i = 1; i <= numbers.length; i++) {
      if (i === numbers.length || numbers[i] !== numbers[i - 1] + 1) {
        const a = numbers[start], b = numbers[i - 1];
        parts.push(a === b ? String(a) : b === a + 1 ? a + ", " + b : a + "\u2013" + b);
        start = i;
      }
    }
    return parts.join(", ");
  }

  function bitText(hexText) {
    const list = positions(hexText);
    return list.length === 0 ? "" : (list.length === 1 ? "bit " : "bits ") + runs(list);
  }

  function chips(names, bitList, refusedBits) {
    const out = [];
    let i = 0;
    while (i < names.length) {
      let j = i + 1;
      const match = /^(HPM|bit )(\d+)$/.exec(names[i]);
      if (match) {
        while (j < names.length && names[j] === match[1] + (Number(match[2]) + j - i)) j++;
      }
      if (j - i < 3) j = i + 1;
      const refused = bitList.slice(i, j).some((bit) => refusedBits.includes(bit));
      out.push({ text: j - i === 1 ? names[i] : names[i] + "\u2013" + names[j - 1], refused });
      i = j;
    }
    return out;
  }

  function renderBits(cell, csr) {
    cell.textContent = "";
    const bitList = positions(csr.value);
    const refusedBits = csr.refused ? positions(csr.refused) : [];
    if (csr.bits.length === 0) {
      const none = document.createElement("span");
      none.className = "none";
      none.textContent = "none";
      cell.append(none);
      return;
    }
    const list = document.createElement("ul");
    list.className = "chips";
    for (const chip of chips(csr.bits, bitList, refusedBits)) {
      const item = document.createElement("li");
      item.textContent = chip.text;
      if (chip.refused) item.className = "refused";
      list.append(item);
    }
    cell.append(list);
  }

  function renderCode(cell, text) {
    cell.textContent = "";
    if (text === undefined) {
      const none = document.createElement("span");
      none.className = "none";
      none.textContent = "\u2014";
      cell.append(none);
      return;
    }
    const code = document.createElement("code");
    code.textContent = text;
    cell.append(code);
  }

  function renderRefused(cell, csr) {
    cell.textContent = "";
    if (csr.refused === undefined || BigInt(csr.refused) === 0n) {
      const none = document.createElement("span");
      none.className = "none";
      none.textContent = csr.refused === undefined ? "\u2014" : "none";
      cell.append(none);
      return;
    }
    const mark = document.createElement("mark");
    mark.className = "refused";
    const code = document.createElement("code");
    code.textContent = csr.refused;
    mark.append(code);
    const where = document.createElement("span");
    where.className = "bitpos";
    where.textContent = bitText(csr.refused);
    cell.append(mark, " ", where);
  }

  function renderHart(card, hart) {
    card.dataset.state = hart.state;
    const badge = card.querySelector("[data-field=state]");
    badge.textContent = hart.state;
    badge.className = "badge state-" + hart.state;
    card.querySelector("button[data-action=enable]").disabled = hart.state === "enabled";
    card.querySelector("button[data-action=disable]").disabled = hart.state !== "enabled";
    for (const row of card.querySelectorAll("[data-csr]")) {
      const csr = hart.csrs[row.dataset.csr];
      if (!csr) continue;
      renderCode(row.querySelector("[data-field=value]"), csr.value);
      renderCode(row.querySelector("[data-field=asked]"), csr.asked);
      renderCode(row.querySelector("[data-field=kept]"), csr.kept);
      renderRefused(row.querySelector("[data-field=refused]"), csr);
      renderBits(row.querySelector("[data-field=bits]"), csr);
    }
  }

  function cell(row, route) {
    if (!route.arises) {
      return { text: "\u2014", className: "route na", title: route.reason };
    }
    const to = route.effective.destination;
    let text = route.destination === to ? to : route.destination + "\u2192" + to;
    if (row.interrupt && route.cause !== row.cause) text += ":" + route.cause;
    let className = "route to-" + to;
    let title = route.reason;
    if (route.destination !== to) {
      className += " via-" + route.destination;
      title += " \u2014 " + route.effective.reason;
    }
    if (!route.taken) {
      className += " pending";
      text = "(" + text + ")";
    }
    return { text, className, title };
  }

  function renderRoutes(card, routes) {
    for (const row of routes.rows) {
      const kind = row.interrupt ? "interrupt" : "exception";
      for (const from of ORIGINS) {
        const td = card.querySelector(
          'td[data-kind="' + kind + '"][data-cause="' + row.cause + '"][data-from="' + from + '"]',
        );
        if (!td || !row.routes[from]) continue;
        const view = cell(row, row.routes[from]);
        td.textContent = view.text;
        td.className = view.className;
        td.title = view.title;
      }
    }
  }

  async function call(method, url) {
    const headers = { Accept: "application/json" };
    const init = { method, headers };
    if (method === "POST") {
      headers["Content-Type"] = "application/json";
      init.body = "{}";
    }
    const response = await fetch(url, init);
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
    return body;
  }

  async function press(event) {
    const button = event.currentTarget;
    const id = button.dataset.hart;
    const action = button.dataset.action;
    const card = document.getElementById("hart-" + id);
    card.setAttribute("aria-busy", "true");
    for (const b of card.querySelectorAll("button")) b.disabled = true;
    try {
      const hart = await call("POST", "api/harts/" + id + "/" + action);
      renderHart(card, hart);
      renderRoutes(card, await call("GET", "api/harts/" + id + "/routes"));
      say("Hart " + id + " is " + hart.state, false);
    } catch (error) {
      say(String(error.message || error), true);
      const state = card.dataset.state;
      card.querySelector("button[data-action=enable]").disabled = state === "enabled";
      card.querySelector("button[data-action=disable]").disabled = state !== "enabled";
    } finally {
      card.removeAttribute("aria-busy");
    }
  }

  for (const button of document.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", press);
  }
  document.documentElement.dataset.ready = "true";
})();
`;
