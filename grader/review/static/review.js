// grader review: keyboard and highlighting for the transcript page (no widgets: plain DOM over server-rendered HTML).
// j/k or arrows: next/previous criterion; e: next cited sentence; 1-5: level; 0/i: insufficient evidence;
// c: confirm; Esc: leave a field. Clicking an evidence id scrolls to its sentence and highlights it.
(function () {
  "use strict";
  var selected = null;
  var evidenceIndex = -1;

  function cards() { return Array.prototype.slice.call(document.querySelectorAll(".criterion")); }
  function unitNode(id) { return document.getElementById("u-" + id.replace(/\./g, "-")); }

  function select(card, scroll) {
    if (!card) { return; }
    selected = card;
    evidenceIndex = -1;
    cards().forEach(function (c) { c.classList.toggle("selected", c === card); });
    document.querySelectorAll(".unit.cited").forEach(function (u) { u.classList.remove("cited"); });
    (card.dataset.cited || "").split(" ").forEach(function (id) {
      var unit = id && unitNode(id);
      if (unit) { unit.classList.add("cited"); }
    });
    if (scroll) { card.scrollIntoView({ block: "nearest" }); }
    if (window.history && history.replaceState && !document.body.classList.contains("static")) {
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
    select(all[Math.max(0, Math.min(all.length - 1, at + step))] || all[0], true);
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

  function confirmSelected() {
    var form = selected && selected.querySelector("form.confirm");
    var button = form && form.querySelector("button");
    if (button && !button.disabled) { form.requestSubmit(); }
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-goto]");
    var card = event.target.closest(".criterion");
    if (card && card !== selected) { select(card, false); }
    if (target) { event.preventDefault(); showUnit(target.dataset.goto); }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) { event.target.form.requestSubmit(); }
  });

  var keys = {
    j: function () { move(1); }, ArrowDown: function () { move(1); },
    k: function () { move(-1); }, ArrowUp: function () { move(-1); },
    e: nextEvidence, c: confirmSelected,
    0: function () { setLevel("insufficient_evidence"); }, i: function () { setLevel("insufficient_evidence"); },
  };
  [1, 2, 3, 4, 5].forEach(function (n) { keys[n] = function () { setLevel(String(n)); }; });

  document.addEventListener("keydown", function (event) {
    var field = event.target.closest("input, textarea, select");
    if (field) {
      if (event.key === "Escape") { field.blur(); }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || !cards().length) { return; }
    var action = keys[event.key];
    if (action) { event.preventDefault(); action(); }
  });

  // after htmx swaps a card in, select it again (the element is new)
  document.addEventListener("htmx:afterSettle", function () {
    var id = selected && selected.id;
    if (id) { select(document.getElementById(id), false); }
  });

  function start() {
    var wanted = location.hash && document.getElementById(location.hash.slice(1));
    var fromQuery = new URLSearchParams(location.search).get("c");
    select((wanted && wanted.classList.contains("criterion") && wanted) ||
           (fromQuery && document.getElementById("c-" + fromQuery)) || cards()[0], Boolean(wanted || fromQuery));
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
