// tether's dashboard: keeps the open page fresh without reloading it.
//
// The server renders every page (src/tether/monitor/web/templates/), and on request renders
// again the page's live parts alone: the elements marked data-live, at the address in
// body's data-fragment.  This script fetches that fragment every data-refresh-ms while
// the tab is visible and swaps the parts in.  It renders nothing itself: every value in
// the fragment was escaped by the server, and a script element DOMParser parses never runs.
"use strict";

(() => {
  const source = document.body.dataset.fragment;
  if (!source) return; // a page that does not change (the 404 page)
  const every = Number(document.body.dataset.refreshMs) || 5000;
  const patience = Math.max(10000, 2 * every);
  let timer = null;
  let busy = false;

  const regions = () => [...document.querySelectorAll("[data-live]")];

  // -- what a swap keeps ---------------------------------------------------------------

  // The focused element of a live part, found again in the fresh part as the one at the
  // same place among those of the same tag, href and text: the keyboard keeps its place.
  function focusKey() {
    const active = document.activeElement;
    const region = active && active.closest("[data-live]");
    if (!region) return null;
    const tag = active.tagName;
    const href = active.getAttribute("href");
    const text = active.textContent;
    const like = (node) => node.getAttribute("href") === href && node.textContent === text;
    const index = [...region.querySelectorAll(tag)].filter(like).indexOf(active);
    return () => {
      const fresh = document.getElementById(region.id);
      const match = fresh && [...fresh.querySelectorAll(tag)].filter(like)[index];
      if (match) match.focus({ preventScroll: true });
    };
  }

  // Someone selecting text is copying it (an error, a URL): a swap would drop it, so the
  // page holds still until the selection goes.
  function selecting() {
    const selection = document.getSelection();
    if (!selection || selection.isCollapsed) return false;
    return regions().some((r) => r.contains(selection.anchorNode) || r.contains(selection.focusNode));
  }

  // Someone typing a note: a swap would drop what they typed, so the page holds still
  // while a text field of a live part has the focus or holds text.
  function editing() {
    return regions().some((r) =>
      [...r.querySelectorAll("input[type=text]")].some(
        (field) => field.value !== "" || field === document.activeElement,
      ),
    );
  }

  // -- the corner that says how fresh the page is ---------------------------------------

  // Until the next swap brings a fresh corner.
  function stale(why) {
    const box = document.getElementById("updated");
    if (!box) return;
    box.classList.add("stale");
    box.textContent = `not updated: ${why}`;
  }

  // Until the selection (or the note) goes and the next swap brings a fresh corner.
  function held(why) {
    const box = document.getElementById("updated");
    if (!box || box.querySelector(".held")) return;
    const note = document.createElement("span");
    note.className = "held";
    note.textContent = ` · held while ${why}`;
    box.append(note);
  }

  // -- refreshing ----------------------------------------------------------------------

  // Swap every live part for its fresh copy, or none if one is missing.  Each part is
  // replaced where it stands, so the page keeps its scroll position.
  function swap(html) {
    const fresh = new DOMParser().parseFromString(html, "text/html");
    const pairs = regions().map((region) => [region, fresh.getElementById(region.id)]);
    if (pairs.some(([, next]) => !next)) {
      stale("the monitor's answer is not this page");
      return;
    }
    const refocus = focusKey();
    for (const [region, next] of pairs) region.replaceWith(next);
    if (refocus) refocus();
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, every);
  }

  async function refresh() {
    timer = null;
    if (document.hidden) return; // nobody looks: visibilitychange starts again
    busy = true;
    try {
      const response = await fetch(source, {
        headers: { Accept: "text/html" },
        cache: "no-store",
        signal: AbortSignal.timeout(patience),
      });
      if (response.status === 404) {
        stale("this monitor is no longer configured");
      } else if (response.status === 401) {
        // The session has ended (idle, or logged out in another tab): to the login, which
        // brings this page back; not while a note is being written, which would be lost.
        if (editing()) stale("the session has ended: log in again");
        else location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      } else if (!response.ok) {
        stale(`the monitor answered ${response.status}`);
      } else {
        const html = await response.text();
        if (selecting()) held("text is selected");
        else if (editing()) held("a note is written");
        else swap(html);
      }
    } catch {
      stale("the monitor does not answer");
    } finally {
      busy = false;
      if (!document.hidden) schedule();
    }
  }

  // Back in view: refresh at once rather than show what is minutes old.
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !busy) {
      clearTimeout(timer);
      refresh();
    }
  });

  schedule();
})();
