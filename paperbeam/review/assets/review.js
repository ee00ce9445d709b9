/* paperbeam review: sorting and filtering tables, hover details on field boxes.
 * Plain JavaScript, no libraries. Document text only ever goes into the page
 * through textContent (never innerHTML): a document is untrusted input. */
(function () {
  "use strict";

  function cellKey(row, index) {
    var cell = row.cells[index];
    if (!cell) return "";
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
  }

  function compare(a, b, numeric) {
    if (a === "" && b !== "") return 1; // empty cells last, whatever the direction
    if (b === "" && a !== "") return -1;
    if (numeric) {
      var x = parseFloat(a), y = parseFloat(b);
      if (!isNaN(x) && !isNaN(y)) return x - y;
    }
    var p = parseFloat(a), q = parseFloat(b);
    if (!isNaN(p) && !isNaN(q) && String(p) === a && String(q) === b) return p - q;
    return a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" });
  }

  function makeSortable(table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, index) {
      th.addEventListener("click", function () {
        var asc = !th.classList.contains("asc");
        Array.prototype.forEach.call(heads, function (h) { h.classList.remove("asc", "desc"); });
        th.classList.add(asc ? "asc" : "desc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var numeric = th.getAttribute("data-type") === "num";
        rows.sort(function (r1, r2) {
          var a = cellKey(r1, index), b = cellKey(r2, index);
          if (a === "" || b === "") return compare(a, b, numeric);
          var c = compare(a, b, numeric);
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  function setupFilter() {
    var input = document.getElementById("filter");
    var onlyLow = document.getElementById("only-low");
    var table = document.getElementById("docs");
    var shown = document.getElementById("shown");
    if (!input || !table) return;
    function apply() {
      var q = input.value.trim().toLowerCase();
      var n = 0, total = table.tBodies[0].rows.length;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var ok = (!q || row.textContent.toLowerCase().indexOf(q) !== -1) &&
          (!onlyLow || !onlyLow.checked || parseInt(row.getAttribute("data-low"), 10) > 0);
        row.hidden = !ok;
        if (ok) n += 1;
      });
      if (shown) shown.textContent = n + " of " + total + " shown";
    }
    input.addEventListener("input", apply);
    if (onlyLow) onlyLow.addEventListener("change", apply);
    apply();
  }

  function pageData() {
    var el = document.getElementById("pb-data");
    return el ? JSON.parse(el.textContent) : null;
  }

  function setupDocument(data) {
    var tip = document.getElementById("tip");
    var byName = {};
    data.fields.forEach(function (f) { byName[f.name] = f; });

    function highlight(name, on) {
      document.querySelectorAll('[data-field]').forEach(function (el) {
        if (el.getAttribute("data-field") === name) el.classList.toggle("hot", on);
      });
    }

    document.querySelectorAll("svg.overlay").forEach(function (svg) {
      svg.addEventListener("mousemove", function (ev) {
        var target = ev.target;
        if (!tip) return;
        if (target.classList && target.classList.contains("field")) {
          var f = byName[target.getAttribute("data-field")] || {};
          tip.textContent = f.name + "\n" + (f.value === null ? "" : f.value) +
            (f.normalized ? "\nnormalized: " + f.normalized : "") +
            (f.confidence === null || f.confidence === undefined ? "" : "\nconfidence: " + Number(f.confidence).toFixed(2));
        } else if (target.classList && target.classList.contains("word")) {
          var t = target.querySelector("title");
          tip.textContent = t ? t.textContent : "";
        } else {
          tip.hidden = true;
          return;
        }
        tip.hidden = false;
        tip.style.left = (ev.clientX + 14) + "px";
        tip.style.top = (ev.clientY + 14) + "px";
      });
      svg.addEventListener("mouseleave", function () { if (tip) tip.hidden = true; });
      svg.addEventListener("mouseover", function (ev) {
        if (ev.target.classList && ev.target.classList.contains("field")) highlight(ev.target.getAttribute("data-field"), true);
      });
      svg.addEventListener("mouseout", function (ev) {
        if (ev.target.classList && ev.target.classList.contains("field")) highlight(ev.target.getAttribute("data-field"), false);
      });
      // the native <title> tooltip would double ours
      svg.querySelectorAll("rect.field > title, rect.word > title").forEach(function (t) {
        t.parentNode.setAttribute("aria-label", t.textContent);
        t.parentNode.removeChild(t);
      });
    });

    document.querySelectorAll("table.fields tbody tr").forEach(function (row) {
      var name = row.getAttribute("data-field");
      row.addEventListener("mouseenter", function () { highlight(name, true); });
      row.addEventListener("mouseleave", function () { highlight(name, false); });
    });

    var words = document.getElementById("show-words");
    if (words) {
      words.addEventListener("change", function () {
        // SVG elements have no .hidden property: set the attribute (the CSS hides [hidden])
        document.querySelectorAll("svg.overlay g.words").forEach(function (g) { g.toggleAttribute("hidden", !words.checked); });
      });
    }
  }

  /* Geometry of every drawn field box relative to its page image, as fractions
   * of the image (used by the browser test and handy when debugging). */
  function fieldBoxes() {
    var out = [];
    document.querySelectorAll("svg.overlay").forEach(function (svg) {
      var sheet = svg.parentNode;
      var img = sheet.querySelector("img, svg.blank");
      var ir = img.getBoundingClientRect();
      svg.querySelectorAll("rect.field").forEach(function (r) {
        var b = r.getBoundingClientRect();
        out.push({
          field: r.getAttribute("data-field"), page: Number(svg.getAttribute("data-page")),
          x0: (b.left - ir.left) / ir.width, y0: (b.top - ir.top) / ir.height,
          x1: (b.right - ir.left) / ir.width, y1: (b.bottom - ir.top) / ir.height,
          client: { left: b.left, top: b.top, right: b.right, bottom: b.bottom },
          image: { left: ir.left, top: ir.top, width: ir.width, height: ir.height }
        });
      });
    });
    return out;
  }

  window.paperbeamReview = window.paperbeamReview || {};
  window.paperbeamReview.fieldBoxes = fieldBoxes;
  window.paperbeamReview.pageData = pageData;

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.sortable").forEach(makeSortable);
    setupFilter();
    var data = pageData();
    if (data) setupDocument(data);
    document.documentElement.setAttribute("data-ready", "1");
  });
})();
