// grader review: keyboard and highlighting for the transcript page (no widgets: plain DOM over server-rendered HTML).
// j/k or arrows: next/previous criterion; e: next cited sentence; 1-5: level; 0/i: insufficient evidence;
// c: confirm; u or Ctrl+Z: undo your last decision; n: next assigned transcript; Esc: leave a field.
// Clicking an evidence id scrolls to its sentence and highlights it; clicking a step of the scale picks that level.
// A page opens at the top: the first card is selected without touching the address, since a fragment set while
// the page loads makes the browser scroll to it (and focus it) when loading ends.
(function () {
  "use strict";
  var selected = null;
  var evidenceIndex = -1;

  function cards() { return Array.prototype.slice.call(document.querySelectorAll(".criterion")); }
  function unitNode(id) { return document.getElementById("u-" + id.replace(/\./g, "-")); }

  function select(card, scroll, remember) {
    if (!card) { return; }
    selected = card;
    evidenceIndex = -1;
    cards().forEach(function (c) {
      c.classList.toggle("selected", c === card);
      var guide = c.querySelector("details.guide");
      if (guide) { guide.open = c === card; }
    });
    document.querySelectorAll(".unit.cited").forEach(function (u) { u.classList.remove("cited"); });
    (card.dataset.cited || "").split(" ").forEach(function (id) {
      var unit = id && unitNode(id);
      if (unit) { unit.classList.add("cited"); }
    });
    if (scroll) { card.scrollIntoView({ block: "nearest" }); }
    if (remember && window.history && history.replaceState && !document.body.classList.contains("static")) {
      history.replaceState(null, "", "#" + card.id);
    }
  }

  function showUnit(id) {
    var unit = unitNode(id);
    if (!unit) { return; }
    document.querySelectorAll(".unit.focus").forEach(function (u) { u.classList.remove("focus"); });
    unit.classList.add("focus");
    unit.scrollIntoView({ block: "center" });
  }

  function move(step) {
    var all = cards();
    var at = all.indexOf(selected);
    select(all[Math.max(0, Math.min(all.length - 1, at + step))] || all[0], true, true);
  }

  function nextEvidence() {
    if (!selected) { return; }
    var buttons = selected.querySelectorAll("[data-goto]");
    if (!buttons.length) { return; }
    evidenceIndex = (evidenceIndex + 1) % buttons.length;
    showUnit(buttons[evidenceIndex].dataset.goto);
  }

  function setLevel(value) {
    var form = selected && selected.querySelector("form.override");
    if (!form) { return; }
    form.elements.level.value = value;
    form.elements.reason.focus();
  }

  function undo() {
    var form = document.getElementById("undo");
    if (form) { form.requestSubmit(); }
  }

  function nextTranscript() {
    var link = document.getElementById("next-link");
    if (link) { location.href = link.dataset.next || link.href; }
  }

  function confirmSelected() {
    var form = selected && selected.querySelector("form.confirm");
    var button = form && form.querySelector("button");
    if (button && !button.disabled) { form.requestSubmit(); }
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-goto]");
    var card = event.target.closest(".criterion");
    if (card && card !== selected) { select(card, false, true); }
    if (target) { event.preventDefault(); showUnit(target.dataset.goto); }
    var step = event.target.closest(".scale .step");
    if (step && card && !document.body.classList.contains("static")) { setLevel(step.dataset.level); }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) { event.target.form.requestSubmit(); }
  });

  var keys = {
    j: function () { move(1); }, ArrowDown: function () { move(1); },
    k: function () { move(-1); }, ArrowUp: function () { move(-1); },
    e: nextEvidence, c: confirmSelected, u: undo, n: nextTranscript,
    0: function () { setLevel("insufficient_evidence"); }, i: function () { setLevel("insufficient_evidence"); },
  };
  [1, 2, 3, 4, 5].forEach(function (n) { keys[n] = function () { setLevel(String(n)); }; });

  document.addEventListener("keydown", function (event) {
    var field = event.target.closest("input, textarea, select");
    if (field) {
      if (event.key === "Escape") { field.blur(); }
      return;
    }
    if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "z" || event.key === "Z")) {
      if (document.getElementById("undo")) { event.preventDefault(); undo(); }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "n") { event.preventDefault(); nextTranscript(); return; }
    if (!cards().length) { return; }
    var action = keys[event.key];
    if (action) { event.preventDefault(); action(); }
  });

  // after htmx swaps a card in, select it again (the element is new)
  document.addEventListener("htmx:afterSettle", function () {
    var id = selected && selected.id;
    if (id) { select(document.getElementById(id), false, false); }
  });

  // the pinned integrity panel: whole at the top of the pane, its heading only once the cards scroll under it
  function watchIntegrity() {
    var pane = document.getElementById("rubric");
    var panel = document.getElementById("integrity");
    if (!pane || !panel || document.body.classList.contains("static")) { return; }
    pane.classList.add("has-integrity");
    pane.addEventListener("scroll", function () { panel.classList.toggle("compact", pane.scrollTop > 40); },
                          { passive: true });
  }

  function start() {
    watchIntegrity();
    var wanted = location.hash && document.getElementById(location.hash.slice(1));
    var fromQuery = new URLSearchParams(location.search).get("c");
    select((wanted && wanted.classList.contains("criterion") && wanted) ||
           (fromQuery && document.getElementById("c-" + fromQuery)) || cards()[0], Boolean(wanted || fromQuery), false);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
