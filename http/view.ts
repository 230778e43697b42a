/**
 * The page at `GET /`, rendered on the server: the overview first (a hart ×
 * CSR grid of the set-up CSRs, the firmware's delegation, each hart's state
 * and vCPU; identical harts one row; every value that is not what the hart
 * should hold now, or not what its peers hold, marked), then one hart's card
 * when one is open (`/?hart=N`). Everything is readable without JavaScript;
 * the inline script opens cards in place, posts the buttons, and polls for
 * changes to redraw the grid (see `_page_assets.ts`).
 *
 * @module
 */

import { html, raw } from "hono/html";
import { hex } from "../hal/hex.ts";
import type { HalInfo, HartId } from "../hal/types.ts";
import { type PerCpuPolicy, setupTable } from "../percpu/policy.ts";
import { markNote, type Markup, vcpuText } from "./_card.ts";
import { type GridCell, type GridGroup, type GridHart, gridOf, idRuns } from "./_grid.ts";
import { LIVE_CSRS } from "./_live.ts";
import { PAGE_SCRIPT, PAGE_STYLE } from "./_page_assets.ts";

/** What the overview shows. */
export interface OverviewInput {
  /** The set-up policy (the grid's "asked" row). */
  policy: PerCpuPolicy;
  /** Every hart of the set, in set-up order. */
  harts: readonly GridHart[];
  /** The app's change count when the harts were read (the script polls it). */
  generation: string;
}

/** What the page shows. */
export interface PageInput extends OverviewInput {
  /** The backend's description. */
  info: HalInfo;
  /** The open hart's card, when `?hart=N` asked for one. */
  card?: Markup;
  /** The CSP nonce of the inline style and script. */
  nonce: string;
}

/** How many runs of harts a summary line names before it says "and N more". */
const SUMMARY_RUNS = 12;

const COLUMN_TITLES: Readonly<Record<string, string>> = {
  medeleg: "The firmware's exception delegation (M-mode): not the set-up's, shown for routing",
  mideleg: "The firmware's interrupt delegation (M-mode): not the set-up's, shown for routing",
};

const MARK_WORDS: Readonly<Record<Exclude<GridCell["mark"], "ok">, string>> = {
  drift: "drift (not what the hart should hold now)",
  refused: "refused (bits the hart did not keep when they were written)",
  odd: "differs from its peers",
};

/** A link that opens a hart's card: a plain link without JavaScript. */
function hartLink(id: HartId): Markup {
  return html`<a href="?hart=${id}">${id}</a>`;
}

/** Runs of harts as links: `0–16, 18–4095`, each end a link. */
function hartRunLinks(harts: readonly HartId[], limit = Infinity): Markup {
  const runs = idRuns(harts);
  const parts = runs.slice(0, limit).map(([a, b], i) => {
    const run = a === b ? hartLink(a) : html`${hartLink(a)}–${hartLink(b)}`;
    return i === 0 ? run : html`, ${run}`;
  });
  const more = runs.length > limit ? ` and ${runs.length - limit} more runs` : "";
  return html`${parts}${more}`;
}

function gridCell(cell: GridCell): Markup {
  const value = hex(cell.value);
  if (cell.mark === "ok") return html`<td>${value}</td>`;
  return html`<td class="${cell.mark}" title="${markNote(cell)}">${value}</td>`;
}

/** One row per group, on one line: at 4,096 differing harts every byte counts 4,096 times. */
function gridRow(group: GridGroup): Markup {
  // deno-fmt-ignore
  const count = group.harts.length > 1 ? html` <span class="count">(${group.harts.length})</span>` : "";
  const none = raw(group.vcpu === null ? ' class="none"' : "");
  // deno-fmt-ignore
  return html`<tr><th scope="row">${hartRunLinks(group.harts)}${count}</th><td class="state-${group.state}">${group.state}</td><td${none}>${vcpuText(group.vcpu)}</td>${group.cells.map(gridCell)}</tr>
`;
}

/** The policy's per-CPU values, and a per-vCPU policy's values after a bind, by CSR. */
function askedRow(policy: PerCpuPolicy): Markup {
  const perCpu = new Map(setupTable(policy).map((row) => [row.name as string, row]));
  const perVcpu = new Map(setupTable(policy, "vcpu").map((row) => [row.name as string, row]));
  const cells = LIVE_CSRS.map((name) => {
    const row = perCpu.get(name);
    if (row === undefined) {
      return html`<td class="none" title="${COLUMN_TITLES[name]}">firmware</td>`;
    }
    if (row.asked === undefined) return html`<td class="none">nothing</td>`;
    const bound = perVcpu.get(name)!.asked;
    if (bound === row.asked || bound === undefined) return html`<td>${hex(row.asked)}</td>`;
    const title = `Per CPU; ${hex(bound)} on a hart where a vCPU was bound (its delegation)`;
    // deno-fmt-ignore
    return html`<td title="${title}">${hex(row.asked)} <span class="none">(${hex(bound)} with a vCPU)</span></td>`;
  });
  return html`<tr class="asked"><th scope="row" colspan="3">${policy.name} asks</th>${cells}</tr>`;
}

/** The summary line: how many harts in how many rows, by state, and what is marked where. */
function summary(
  harts: readonly GridHart[],
  rows: number,
  marked: ReturnType<typeof gridOf>["marked"],
): Markup {
  const states = new Map<string, number>();
  for (const hart of harts) states.set(hart.state, (states.get(hart.state) ?? 0) + 1);
  const stateText = [...states].map(([state, n]) => `${n} ${state}`).join(", ");
  const byMark = (["drift", "refused", "odd"] as const).map((mark) => {
    const byCsr = new Map<string, HartId[]>();
    for (const value of marked.filter((m) => m.mark === mark)) {
      byCsr.set(value.csr, [...(byCsr.get(value.csr) ?? []), value.hart]);
    }
    if (byCsr.size === 0) return "";
    const items = [...byCsr].map(([csr, ids]) =>
      html`<li><code>${csr}</code> on hart${ids.length === 1 ? "" : "s"} ${
        hartRunLinks(ids, SUMMARY_RUNS)
      }</li>`
    );
    return html`<li class="mark-${mark}"><span class="${mark}">${
      MARK_WORDS[mark]
    }</span>: <ul>${items}</ul></li>`;
  });
  const none = marked.length === 0
    ? html`<li>Every value is what its hart should hold now, and what its peers hold.</li>`
    : "";
  return html`
    <p
      class="summary">${harts.length} hart${harts.length === 1
        ? ""
        : "s"} (${stateText}) in ${rows} row${rows === 1
        ? ""
        : "s"}: harts whose values are all the same share a row.</p>
    <ul class="marked">${byMark}${none}</ul>
  `;
}

/**
 * Renders the overview: the summary and the hart × CSR grid, identical
 * harts grouped, marked values highlighted with their reason as a tooltip.
 *
 * @param input The policy, the harts and the generation they were read at.
 * @returns The overview section (`id="overview"`), which the script replaces whole.
 */
export function renderOverview(input: OverviewInput): Markup {
  const { groups, marked } = gridOf(input.harts);
  const heads = LIVE_CSRS.map((name) =>
    COLUMN_TITLES[name] === undefined
      ? html`<th scope="col">${name}</th>`
      : html`<th scope="col" title="${COLUMN_TITLES[name]}">${name}</th>`
  );
  return html`
    <section id="overview" data-generation="${input.generation}" aria-labelledby="overview-title">
      <h2 id="overview-title">Harts</h2>
      ${summary(input.harts, groups.length, marked)}
      <div class="grid-scroll">
        <table class="grid">
          <caption>Live values of every hart; open a hart for its bits and trap routing</caption>
          <thead>
            <tr><th scope="col">Harts</th><th scope="col">State</th><th scope="col">vCPU</th>${heads}</tr>
            ${askedRow(input.policy)}
          </thead>
          <tbody>
            ${groups.map(gridRow)}
          </tbody>
        </table>
      </div>
    </section>
  `;
}

/**
 * Renders the detail section: the open hart's card, or how to open one.
 *
 * @param card The card, if a hart is open.
 * @returns The section (`id="detail"`), which the script replaces whole.
 */
export function renderDetail(card: Markup | undefined): Markup {
  return html`
    <section id="detail" aria-label="The open hart">
      ${card ??
        html`<p class="hint">Open a hart (its id in the grid) for its CSRs, bits, vCPU and trap routing.</p>`}
    </section>
  `;
}

function legend(): Markup {
  return html`
    <details class="legend">
      <summary id="legend-title">Legend</summary>
      <ul>
        <li><span class="swatch drift">drift</span> not what the hart should hold now (the policy's value, a bound vCPU's delegation, or after a disable its prior value)</li>
        <li><span class="swatch refused">refused</span> the hart did not keep those bits when they were written: a fact of the hart</li>
        <li><span class="swatch odd">odd</span> not what most harts in its state that should hold the same hold</li>
        <li><span class="swatch to-M">M</span> M-mode (firmware) handles it</li>
        <li><span class="swatch to-HS">HS</span> the hypervisor handles it</li>
        <li><span class="swatch to-VS">VS</span> the guest kernel handles it</li>
        <li><span class="swatch to-VS via-M">M→VS</span> M-mode receives it, OpenSBI redirects it</li>
        <li><span class="swatch to-VS">VS:5</span> VS-mode sees cause 5 (VS interrupts 10/6/2 become 9/5/1)</li>
        <li><span class="swatch to-VS pending">(VS)</span> interrupt not taken in that mode (stays pending)</li>
        <li><span class="swatch na">—</span> not raised in that mode</li>
      </ul>
    </details>
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
 * @param input The system facts, the overview, the open card and the nonce.
 * @returns The HTML document.
 */
export function renderPage(input: PageInput): Markup {
  const { info, nonce } = input;
  return html`
    <!doctype html>
    <html lang="en">
      ${head(`rvhv: ${input.harts.length} harts on ${info.backend}`, nonce)}
      <body>
        <header class="page-head">
          <h1>rvhv<span>per-CPU hypervisor set-up</span></h1>
          ${systemFacts(info, input.policy.name, input.harts.length)}
        </header>
        <main>
          <p id="connection" role="alert" hidden></p>
          ${renderOverview(input)}
          <p class="open-hart" hidden>
            <label>Open hart <input id="open-hart" type="number" min="0" step="1" inputmode="numeric"></label>
            <button type="button" data-open-input>Open</button>
          </p>
          ${renderDetail(input.card)}
          ${legend()}
        </main>
        <p id="status" role="status" aria-live="polite"></p>
        <script nonce="${nonce}">${raw(PAGE_SCRIPT)}</script>
      </body>
    </html>
  `;
}

/** The document's head: its title, and the page's style when a nonce allows it. */
function head(title: string, nonce?: string): Markup {
  return html`
    <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <link rel="icon" href="data:,">
      <title>${title}</title>
      ${nonce === undefined ? "" : html`<style nonce="${nonce}">${raw(PAGE_STYLE)}</style>`}
    </head>
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
      ${head(`rvhv: ${status} ${error.kind}`)}
      <body>
        <h1>${status} ${error.kind}</h1>
        <p>${error.message}</p>
      </body>
    </html>
  `;
}
