/**
 * A hart's card, rendered on the server (module-internal): its state and
 * enable/disable buttons, its vCPU with bind/unbind, the CSRs the set-up
 * touches (live values, what the set-up asked and kept, named bits, refused
 * bits and drift highlighted) and its trap-routing grid. The page opens it
 * under the overview; the script fetches it again after every change.
 *
 * @module
 */

import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { ALL_ONES } from "../hal/csr_fields.ts";
import { hex } from "../hal/hex.ts";
import type { CsrDescription, HartDescription } from "../percpu/report.ts";
import type { RouteRow, RoutesDescription } from "../routing/route_table.ts";
import type { TrapOrigin, TrapRoute } from "../routing/route_trap.ts";
import { type GridCell, idRuns } from "./_grid.ts";

/** Markup, as hono's `html` tag makes it. */
export type Markup = HtmlEscapedString | Promise<HtmlEscapedString>;

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
  return idRuns(numbers).map(([a, b]) =>
    a === b ? String(a) : b === a + 1 ? `${a}, ${b}` : `${a}\u2013${b}`
  ).join(", ");
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

/**
 * Why a value is marked, in a sentence (the tooltip of a marked value).
 *
 * @param cell The value and its comparison.
 * @returns The sentence; empty for an ok value.
 */
export function markNote(cell: GridCell): string {
  const now = `${cell.csr} is ${hex(cell.value)}`;
  const expected = cell.expected;
  if (cell.mark === "drift" && expected !== undefined) {
    const should = expected.prior
      ? `${hex(expected.value)}, its value before the set-up, which the disable restored`
      : hex(expected.value) +
        (expected.mask === ALL_ONES ? "" : ` in the bits ${hex(expected.mask)}`);
    return `Drift: ${now}; it should hold ${should} now (${bitText(hex(cell.bits))} differ)`;
  }
  if (cell.mark === "refused" && expected !== undefined) {
    return `Refused: ${now}; the hart did not keep ${bitText(hex(cell.bits))} of the ` +
      `${hex(expected.value)} the set-up wrote (a fact of the hart, not drift)`;
  }
  if (cell.mark === "odd" && cell.usual !== undefined) {
    const { holders, peers, value } = cell.usual;
    return `Differs: ${now}; ${holders} of the ${peers} harts in its state that should hold ` +
      `the same hold ${hex(value)}`;
  }
  return "";
}

function valueCell(csr: CsrDescription, cell: GridCell | undefined): Markup {
  if (cell === undefined || cell.mark === "ok") {
    return html`<td data-field="value">${code(csr.value)}</td>`;
  }
  return html`<td data-field="value" class="${cell.mark}" title="${markNote(cell)}">${
    code(csr.value)
  }</td>`;
}

function csrTable(hart: HartDescription, cells: readonly GridCell[]): Markup {
  const groups = Object.entries(hart.csrs).map(([name, csr]) =>
    html`
      <tbody data-csr="${name}">
        <tr>
          <th scope="row" rowspan="2"><code>${name}</code></th>
          ${valueCell(csr, cells.find((cell) => cell.csr === name))}
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
      <caption>CSRs: live values (drift marked), what the last set-up asked and kept, the bits set</caption>
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

/**
 * How a hart's vCPU reads: `VM 1, bound`, `VM 1, free`, or `none`.
 *
 * @param vcpu The hart object's `vcpu`.
 * @returns The text.
 */
export function vcpuText(vcpu: HartDescription["vcpu"]): string {
  return vcpu === null ? "none" : `VM ${vcpu.vm}, ${vcpu.state}`;
}

function button(
  action: string,
  id: number,
  label: string,
  off: string | undefined,
): Markup {
  const name = `${label} ${action.startsWith("vcpu/") ? "a vCPU on " : ""}hart ${id}`;
  return off === undefined
    ? html`
      <button type="button" data-action="${action}" data-hart="${id}"
        aria-label="${name}">${label}</button>
    `
    : html`
      <button type="button" data-action="${action}" data-hart="${id}" aria-label="${name}"
        title="${off}" disabled>${label}</button>
    `;
}

/**
 * Renders a hart's card: state and enable/disable, its vCPU and
 * bind/unbind (each button disabled, saying why, where the hart's state
 * does not allow it), its CSRs and its routing grid.
 *
 * @param input The hart object, its routing and its cells (for the marks).
 * @returns The card.
 */
export function renderCard(input: {
  hart: HartDescription;
  routes: RoutesDescription;
  cells: readonly GridCell[];
}): Markup {
  const { hart, routes, cells } = input;
  const { id, state, vcpu } = hart;
  const enabled = state === "enabled";
  const bound = vcpu?.state === "bound";
  const h = hart.h ? "H" : "no H";
  return html`
    <article class="hart" id="hart-${id}" data-hart="${id}" data-state="${state}"
      aria-labelledby="hart-${id}-title">
      <div class="hart-head">
        <h2 id="hart-${id}-title">Hart ${id}</h2>
        <span class="badge state-${state}" data-field="state">${state}</span>
        <span class="badge h-yes" title="The hart has the H extension">${h}</span>
        <div class="actions">
          ${button("enable", id, "Enable", enabled ? "The hart is enabled" : undefined)}
          ${button(
            "disable",
            id,
            "Disable",
            !enabled ? `The hart is ${state}` : bound ? "Unbind its vCPU first" : undefined,
          )}
        </div>
      </div>
      <div class="vcpu-row">
        <span>vCPU: <strong data-field="vcpu">${vcpuText(vcpu)}</strong></span>
        <label>VM <input type="number" name="vm" min="0" step="1" value="${vcpu?.vm ??
          1}" data-hart="${id}"></label>
        ${button(
          "vcpu/bind",
          id,
          "Bind",
          !enabled
            ? "vCPUs are bound only on enabled harts"
            : bound
            ? "A vCPU is bound"
            : undefined,
        )}
        ${button("vcpu/unbind", id, "Unbind", bound ? undefined : "No vCPU is bound")}
      </div>
      ${csrTable(hart, cells)} ${routeGrid(routes)}
    </article>
  `;
}
