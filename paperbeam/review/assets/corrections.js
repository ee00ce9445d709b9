/* paperbeam review: correct the fields of one document and export them as
 * ground truth, in the truth format of paperbeam/synth/truth.py
 * ({"schema_version", "document", "kind", "fields": {name: {value, normalized,
 * page, bbox} | null}, "pages": [...]}), which `paperbeam train` and
 * `paperbeam evaluate` read from DIR/truth/<stem>.json.
 *
 * The draft (the record as extracted) comes from the page's JSON data; a field
 * the reviewer does not touch is exported as extracted: exporting says "this
 * document was checked". Boxes are in the page's units (points or pixels). */
(function () {
  "use strict";

  var dataEl = document.getElementById("pb-data");
  if (!dataEl) return;
  var data = JSON.parse(dataEl.textContent);
  var storageKey = "paperbeam-review:" + data.doc_id;
  var corrections = load();
  var drawing = null; // field name while "draw box" is armed

  function load() {
    try {
      return JSON.parse(window.localStorage.getItem(storageKey) || "{}") || {};
    } catch (e) {
      return {}; // storage may be disabled for file:// pages; edits then live until the page closes
    }
  }

  function save() {
    try { window.localStorage.setItem(storageKey, JSON.stringify(corrections)); } catch (e) { /* see load() */ }
  }

  function status(text) {
    var el = document.getElementById("status");
    if (el) el.textContent = text;
  }

  function row(name) {
    var rows = document.querySelectorAll("table.fields tbody tr");
    for (var i = 0; i < rows.length; i++) if (rows[i].getAttribute("data-field") === name) return rows[i];
    return null;
  }

  function draftField(name) {
    return data.truth.fields[name] || null;
  }

  function current(name) {
    var base = draftField(name);
    var c = corrections[name];
    if (!c) return base ? JSON.parse(JSON.stringify(base)) : null;
    if (c.absent) return null;
    var value = c.value === undefined ? (base ? base.value : "") : c.value;
    var norm = c.normalized === undefined ? (base ? base.normalized : null) : c.normalized;
    return {
      value: value,
      normalized: norm === "" ? null : norm,
      page: c.page !== undefined ? c.page : (base ? base.page : null),
      bbox: c.bbox !== undefined ? c.bbox : (base ? base.bbox : null)
    };
  }

  function buildTruth() {
    var truth = JSON.parse(JSON.stringify(data.truth));
    var corrected = [];
    Object.keys(truth.fields).forEach(function (name) {
      if (corrections[name]) corrected.push(name);
      var f = current(name);
      truth.fields[name] = f && f.value !== "" && f.value !== null ? f : null;
    });
    truth.origin = truth.origin || {};
    truth.origin.reviewed = true;
    truth.origin.corrected = corrected.sort();
    truth.origin.exported = new Date().toISOString();
    return truth;
  }

  function touch(name, change) {
    corrections[name] = Object.assign(corrections[name] || {}, change);
    var r = row(name);
    if (r) r.classList.add("corrected");
    save();
  }

  function bindRow(r) {
    var name = r.getAttribute("data-field");
    var value = r.querySelector(".c-value");
    var norm = r.querySelector(".c-norm");
    var absent = r.querySelector(".c-absent");
    var draw = r.querySelector(".c-draw");
    var c = corrections[name];
    if (c) { // restore edits kept from an earlier visit
      if (c.value !== undefined) value.value = c.value;
      if (c.normalized !== undefined) norm.value = c.normalized;
      if (c.absent !== undefined) absent.checked = c.absent;
      r.classList.add("corrected");
      if (c.bbox) showBox(name, c.page, c.bbox);
    }
    value.addEventListener("input", function () {
      var change = { value: value.value, absent: value.value === "" };
      absent.checked = change.absent;
      touch(name, change);
    });
    norm.addEventListener("input", function () { touch(name, { normalized: norm.value }); });
    absent.addEventListener("change", function () { touch(name, { absent: absent.checked }); });
    draw.addEventListener("click", function () {
      drawing = name;
      document.querySelectorAll("svg.overlay").forEach(function (s) { s.classList.add("draw-mode"); });
      status("Drag a box around " + name + " on the page.");
    });
  }

  function pageInfo(pageNumber) {
    for (var i = 0; i < data.pages.length; i++) if (data.pages[i].page === pageNumber) return data.pages[i];
    return null;
  }

  function fieldColor(name) {
    for (var i = 0; i < data.fields.length; i++) if (data.fields[i].name === name) return data.fields[i].color;
    return "#000";
  }

  function showBox(name, pageNumber, bbox) {
    var info = pageInfo(pageNumber);
    var svg = document.querySelector('svg.overlay[data-page="' + Number(pageNumber) + '"]');
    if (!info || !svg) return;
    var sx = info.image_width / info.width, sy = info.image_height / info.height;
    document.querySelectorAll("svg.overlay rect.field").forEach(function (r) {
      if (r.getAttribute("data-field") === name) r.parentNode.removeChild(r);
    });
    var rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    rect.setAttribute("class", "field corrected");
    rect.setAttribute("data-field", name);
    rect.setAttribute("x", bbox[0] * sx);
    rect.setAttribute("y", bbox[1] * sy);
    rect.setAttribute("width", (bbox[2] - bbox[0]) * sx);
    rect.setAttribute("height", (bbox[3] - bbox[1]) * sy);
    rect.setAttribute("stroke", fieldColor(name));
    rect.setAttribute("fill", fieldColor(name));
    svg.querySelector("g.fields").appendChild(rect);
  }

  function svgPoint(svg, ev) {
    var pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    return pt.matrixTransform(svg.getScreenCTM().inverse());
  }

  function bindDrawing(svg) {
    var start = null;
    var box = svg.querySelector("rect.drawing");
    svg.addEventListener("mousedown", function (ev) {
      if (!drawing) return;
      ev.preventDefault();
      start = svgPoint(svg, ev);
      box.removeAttribute("hidden"); // SVG: the attribute, not a property
      box.setAttribute("x", start.x); box.setAttribute("y", start.y);
      box.setAttribute("width", 0); box.setAttribute("height", 0);
    });
    svg.addEventListener("mousemove", function (ev) {
      if (!start) return;
      var p = svgPoint(svg, ev);
      box.setAttribute("x", Math.min(p.x, start.x)); box.setAttribute("y", Math.min(p.y, start.y));
      box.setAttribute("width", Math.abs(p.x - start.x)); box.setAttribute("height", Math.abs(p.y - start.y));
    });
    svg.addEventListener("mouseup", function (ev) {
      if (!start || !drawing) return;
      var p = svgPoint(svg, ev);
      var page = Number(svg.getAttribute("data-page"));
      var info = pageInfo(page);
      var sx = info.image_width / info.width, sy = info.image_height / info.height;
      var bbox = [Math.min(p.x, start.x) / sx, Math.min(p.y, start.y) / sy, Math.max(p.x, start.x) / sx, Math.max(p.y, start.y) / sy]
        .map(function (v) { return Math.round(v * 100) / 100; });
      start = null;
      box.setAttribute("hidden", "");
      var name = drawing;
      drawing = null;
      document.querySelectorAll("svg.overlay").forEach(function (s) { s.classList.remove("draw-mode"); });
      if (bbox[2] - bbox[0] < 1 || bbox[3] - bbox[1] < 1) { status("Box too small; not changed."); return; }
      touch(name, { page: page, bbox: bbox });
      showBox(name, page, bbox);
      status("Box of " + name + " set on page " + page + ".");
    });
  }

  function exportTruth() {
    var truth = buildTruth();
    var text = JSON.stringify(truth, null, 2) + "\n";
    var url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    var a = document.createElement("a");
    a.href = url;
    a.download = data.stem + ".json";
    document.body.appendChild(a);
    a.click();
    document.body.removeChild(a);
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    status("Exported " + data.stem + ".json (" + truth.origin.corrected.length + " field(s) corrected).");
    return truth;
  }

  function reset() {
    corrections = {};
    try { window.localStorage.removeItem(storageKey); } catch (e) { /* see load() */ }
    window.location.reload();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.fields tbody tr").forEach(bindRow);
    document.querySelectorAll("svg.overlay").forEach(bindDrawing);
    var exp = document.getElementById("export");
    if (exp) exp.addEventListener("click", exportTruth);
    var rst = document.getElementById("reset");
    if (rst) rst.addEventListener("click", reset);
  });

  window.paperbeamReview = window.paperbeamReview || {};
  window.paperbeamReview.buildTruth = buildTruth;
  window.paperbeamReview.correct = function (name, change) { touch(name, change); if (change.bbox) showBox(name, change.page, change.bbox); };
})();
