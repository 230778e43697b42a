/**
 * The page at `GET /`, rendered on the server: a card per hart with its
 * state, enable/disable buttons, the CSRs the set-up touches (live values,
 * named bits, refused bits highlighted) and its routing grid. Everything is
 * readable without JavaScript; the inline script only updates a card after
 * a button press.
 *
 * @module
 */

import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { HalInfo } from "../hal/types.ts";
import type { CsrDescription, HartDescription } from "../percpu/report.ts";
import type { RouteRow, RoutesDescription } from "../routing/route_table.ts";
import type { TrapOrigin, TrapRoute } from "../routing/route_trap.ts";
import { PAGE_SCRIPT, PAGE_STYLE } from "./_page_assets.ts";

/** What the page shows. */
export interface PageInput {
  /** The backend's description. */
  info: HalInfo;
  /** The set-up policy's name. */
  policy: string;
  /** Each hart with its routing. */
  harts: readonly { hart: HartDescription; routes: RoutesDescription }[];
  /** The CSP nonce of the inline style and script. */
  nonce: string;
}

/** The page's markup. */
type Markup = HtmlEscapedString | Promise<HtmlEscapedString>;

/** The grid's columns. */
export const GRID_ORIGINS: readonly TrapOrigin[] = ["U", "HS", "VU", "VS"];

const ORIGIN_TITLES: Readonly<Record<string, string>> = {
  U: "U-mode (V=0): a user process of the host",
  HS: "HS-mode: the hypervisor",
  VU: "VU-mode (V=1): a user process of the guest",
  VS: "VS-mode (V=1): the guest kernel",
};

/** A grid cell as text, classes and a tooltip (the script's `cell` is the same). */
export interface CellView {
  /** The visible text. */
  text: string;
  /** The class list. */
  className: string;
  /** The reasons. */
  title: string;
}

/**
 * How a grid cell shows a route: the destination (`M→VS` when the firmware
 * redirects), `:N` for the cause an interrupt is seen as, in parentheses
 * when an interrupt is not taken from that mode, `—` when the exception is
 * not raised there; coloured by where the handler finally runs.
 *
 * @param row The row.
 * @param route The route of one origin.
 * @returns The cell.
 */
export function cellView(row: RouteRow, route: TrapRoute): CellView {
  if (!route.arises) return { text: "\u2014", className: "route na", title: route.reason };
  const to = route.effective.destination;
  let text = route.destination === to ? to : `${route.destination}\u2192${to}`;
  if (row.interrupt && route.cause !== row.cause) text += `:${route.cause}`;
  let className = `route to-${to}`;
  let title = route.reason;
  if (route.destination !== to) {
    className += ` via-${route.destination}`;
    title += ` \u2014 ${route.effective.reason}`;
  }
  if (!route.taken) {
    className += " pending";
    text = `(${text})`;
  }
  return { text, className, title };
}

function positions(value: string): number[] {
  const bits = BigInt(value);
  const out: number[] = [];
  for (let bit = 0; bit < 64; bit++) if ((bits >> BigInt(bit)) & 1n) out.push(bit);
  return out;
}

function runs(numbers: readonly number[]): string {
  const parts: string[] = [];
  let start = 0;
  for (let i = 1; i <= numbers.length; i++) {
    if (i === numbers.length || numbers[i] !== numbers[i - 1]! + 1) {
      const a = numbers[start]!;
      const b = numbers[i - 1]!;
      parts.push(a === b ? String(a) : b === a + 1 ? `${a}, ${b}` : `${a}\u2013${b}`);
      start = i;
    }
  }
  return parts.join(", ");
}

/**
 * The bit positions of a `0x…` value as text: `bit 5`, `bits 1, 5, 9`,
 * `bits 32–63`.
 *
 * @param value The value.
 * @returns The text (empty for 0).
 */
export function bitText(value: string): string {
  const list = positions(value);
  return list.length === 0 ? "" : `${list.length === 1 ? "bit" : "bits"} ${runs(list)}`;
}

/**
 * The chips of a CSR's named bits: runs of three or more counters
 * (`HPM3–HPM31`, `bit 32–bit 63`) folded into one, each marked when one of
 * its bits is refused.
 *
 * @param csr The CSR's description.
 * @returns The chips.
 */
export function bitChips(csr: CsrDescription): { text: string; refused: boolean }[] {
  const names = csr.bits;
  const bitList = positions(csr.value);
  const refusedBits = new Set(csr.refused === undefined ? [] : positions(csr.refused));
  const out: { text: string; refused: boolean }[] = [];
  let i = 0;
  while (i < names.length) {
    let j = i + 1;
    const match = /^(HPM|bit )(\d+)$/.exec(names[i]!);
    if (match !== null) {
      while (j < names.length && names[j] === match[1]! + (Number(match[2]) + j - i)) j++;
    }
    if (j - i < 3) j = i + 1;
    const refused = bitList.slice(i, j).some((bit) => refusedBits.has(bit));
    out.push({ text: j - i === 1 ? names[i]! : `${names[i]}\u2013${names[j - 1]}`, refused });
    i = j;
  }
  return out;
}

function code(value: string | undefined): Markup {
  return value === undefined ? html`<span class="none">—</span>` : html`<code>${value}</code>`;
}

function refusedCell(csr: CsrDescription): Markup {
  if (csr.refused === undefined) return html`<span class="none">—</span>`;
  if (BigInt(csr.refused) === 0n) return html`<span class="none">none</span>`;
  const where = bitText(csr.refused);
  return html`<mark class="refused"><code>${csr.refused}</code></mark> <span class="bitpos">${where}</span>`;
}

function bitsCell(csr: CsrDescription): Markup {
  if (csr.bits.length === 0) return html`<span class="none">none</span>`;
  const chips = bitChips(csr).map(({ text, refused }) =>
    refused ? html`<li class="refused">${text}</li>` : html`<li>${text}</li>`
  );
  return html`<ul class="chips">${chips}</ul>`;
}

function csrTable(hart: HartDescription): Markup {
  const groups = Object.entries(hart.csrs).map(([name, csr]) =>
    html`
      <tbody data-csr="${name}">
        <tr>
          <th scope="row" rowspan="2"><code>${name}</code></th>
          <td data-field="value">${code(csr.value)}</td>
          <td data-field="asked">${code(csr.asked)}</td>
          <td data-field="kept">${code(csr.kept)}</td>
          <td data-field="refused">${refusedCell(csr)}</td>
        </tr>
        <tr class="bits">
          <td colspan="4" data-field="bits">${bitsCell(csr)}</td>
        </tr>
      </tbody>
    `
  );
  return html`
    <table class="csrs">
      <caption>CSRs: live values, what the last set-up asked and kept, the bits set</caption>
      <thead>
        <tr>
          <th scope="col">CSR</th><th scope="col">Value</th><th scope="col">Asked</th>
          <th scope="col">Kept</th><th scope="col">Refused</th>
        </tr>
      </thead>
      ${groups}
    </table>
  `;
}

function routeRows(rows: readonly RouteRow[], interrupt: boolean): Markup[] {
  const kind = interrupt ? "interrupt" : "exception";
  return rows.filter((row) => row.interrupt === interrupt).map((row) => {
    const cause = row.cause;
    const cells = GRID_ORIGINS.map((from) => {
      const { text, className, title } = cellView(row, row.routes[from]!);
      return html`
        <td class="${className}" title="${title}" data-kind="${kind}" data-cause="${cause}"
          data-from="${from}">${text}</td>
      `;
    });
    return html`<tr><th scope="row">${cause}</th><td class="name">${row.name}</td>${cells}</tr>`;
  });
}

function routeGrid(routes: RoutesDescription): Markup {
  const { id, firmware } = routes;
  const heads = GRID_ORIGINS.map((from) =>
    html`<th scope="col" title="${ORIGIN_TITLES[from]}">${from}</th>`
  );
  return html`
    <details open>
      <summary>Trap routing <span class="none">(firmware model: ${firmware})</span></summary>
      <table class="routes" aria-describedby="legend-title">
        <caption>Where each trap of hart ${id} is handled, by the mode it happens in</caption>
        <thead>
          <tr><th scope="col">Cause</th><th scope="col">Name</th>${heads}</tr>
        </thead>
        <tbody>
          <tr><th scope="rowgroup" colspan="6">Exceptions</th></tr>
          ${routeRows(routes.rows, false)}
          <tr><th scope="rowgroup" colspan="6">Interrupts</th></tr>
          ${routeRows(routes.rows, true)}
        </tbody>
      </table>
    </details>
  `;
}

function hartCard({ hart, routes }: { hart: HartDescription; routes: RoutesDescription }): Markup {
  const { id, state } = hart;
  const enabled = state === "enabled";
  const enableOff = raw(enabled ? " disabled" : "");
  const disableOff = raw(enabled ? "" : " disabled");
  const h = hart.h ? "H" : "no H";
  return html`
    <article class="hart" id="hart-${id}" data-hart="${id}" data-state="${state}"
      aria-labelledby="hart-${id}-title">
      <div class="hart-head">
        <h2 id="hart-${id}-title">Hart ${id}</h2>
        <span class="badge state-${state}" data-field="state">${state}</span>
        <span class="badge h-yes" title="The hart has the H extension">${h}</span>
        <div class="actions">
          <button type="button" data-action="enable" data-hart="${id}" aria-label="Enable hart ${id}"${enableOff}>Enable</button>
          <button type="button" data-action="disable" data-hart="${id}" aria-label="Disable hart ${id}"${disableOff}>Disable</button>
        </div>
      </div>
      ${csrTable(hart)} ${routeGrid(routes)}
    </article>
  `;
}

function legend(): Markup {
  return html`
    <section class="legend" aria-labelledby="legend-title">
      <h2 id="legend-title">Legend</h2>
      <ul>
        <li><span class="swatch to-M">M</span> M-mode (firmware) handles it</li>
        <li><span class="swatch to-HS">HS</span> the hypervisor handles it</li>
        <li><span class="swatch to-VS">VS</span> the guest kernel handles it</li>
        <li><span class="swatch to-VS via-M">M→VS</span> M-mode receives it, OpenSBI redirects it</li>
        <li><span class="swatch to-VS">VS:5</span> VS-mode sees cause 5 (VS interrupts 10/6/2 become 9/5/1)</li>
        <li><span class="swatch to-VS pending">(VS)</span> interrupt not taken in that mode (stays pending)</li>
        <li><span class="swatch na">—</span> not raised in that mode</li>
        <li><mark class="refused">refused</mark> asked by the set-up, not kept by the hart</li>
      </ul>
    </section>
  `;
}

function systemFacts(info: HalInfo, policy: string, harts: number): Markup {
  const facts: [string, string][] = [
    ["backend", info.backend],
    ["profile", info.profile ?? "—"],
    ["firmware", info.firmware ?? "—"],
    ["ISA", info.isa],
    ["harts", String(harts)],
    ["policy", policy],
  ];
  const items = facts.map(([term, value]) =>
    html`
      <div>
        <dt>${term}</dt>
        <dd>${value}</dd>
      </div>
    `
  );
  return html`<dl class="system">${items}</dl>`;
}

/**
 * Renders the page.
 *
 * @param input The system facts, the harts and the nonce.
 * @returns The HTML document.
 */
export function renderPage(input: PageInput): Markup {
  const { info, nonce } = input;
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <link rel="icon" href="data:,">
        <title>rvhv: ${input.harts.length} harts on ${info.backend}</title>
        <style nonce="${nonce}">${raw(PAGE_STYLE)}</style>
      </head>
      <body>
        <header class="page-head">
              <h1>rvhv<span>per-CPU hypervisor set-up</span></h1>
              ${systemFacts(info, input.policy, input.harts.length)}
            </header>
        <main>
              ${legend()}
              <div class="harts">${input.harts.map(hartCard)}</div>
            </main>
        <p id="status" role="status" aria-live="polite"></p>
        <script nonce="${nonce}">${raw(PAGE_SCRIPT)}</script>
      </body>
    </html>
  `;
}

/**
 * Renders an error of the page's route as a page: its status, kind and
 * message (a 401 says how to pass the token).
 *
 * @param status The HTTP status.
 * @param error The error body's kind and message.
 * @returns The HTML document.
 */
export function renderErrorPage(
  status: number,
  error: { kind: string; message: string },
): Markup {
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <link rel="icon" href="data:,">
        <title>rvhv: ${status} ${error.kind}</title>
      </head>
      <body>
        <h1>${status} ${error.kind}</h1>
        <p>${error.message}</p>
      </body>
    </html>
  `;
}
