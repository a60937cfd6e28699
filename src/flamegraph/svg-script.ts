/**
 * The JavaScript embedded in the SVG: click a frame to zoom into it, "Reset Zoom", Ctrl-F (or F3
 * or the Search button) for a regular-expression search that colours matches and prints the
 * matched share of the total, "ic" to toggle ignore-case, Esc to clear. `?x=..&y=..&s=..` in the
 * URL restores a zoom and a search. Plain ES5 so any SVG viewer that runs scripts can run it.
 */
export const SVG_SCRIPT = String.raw`
"use strict";
var svg, details, unzoombtn, matchedtxt, searchbtn, icbtn, frames, fontsize, fontwidth, xpad, width;
var searching = null, ignorecase = false, zoomed = null;
function init(evt) {
  svg = document.documentElement;
  details = document.getElementById("details").firstChild;
  unzoombtn = document.getElementById("unzoom");
  matchedtxt = document.getElementById("matched");
  searchbtn = document.getElementById("search");
  icbtn = document.getElementById("ignorecase");
  frames = document.getElementById("frames");
  fontsize = +svg.getAttribute("data-fontsize");
  fontwidth = +svg.getAttribute("data-fontwidth");
  xpad = +svg.getAttribute("data-xpad");
  width = +svg.getAttribute("width");
  var params = new URLSearchParams(window.location.search);
  if (params.get("x") !== null && params.get("y") !== null) {
    var x = +params.get("x"), y = +params.get("y");
    var all = frames.children;
    for (var i = 0; i < all.length; i++) {
      var r = rectOf(all[i]);
      if (Math.abs(+r.getAttribute("data-x") - x) < 0.5 && Math.abs(+r.getAttribute("y") - y) < 0.5) { zoom(all[i]); break; }
    }
  }
  if (params.get("s")) search(params.get("s"));
}
function rectOf(g) { return g.getElementsByTagName("rect")[0]; }
function textOf(g) { return g.getElementsByTagName("text")[0]; }
function nameOf(g) { return g.getAttribute("data-name"); }
function titleOf(g) { return g.getElementsByTagName("title")[0].textContent; }
function setParams(key, value) {
  var params = new URLSearchParams(window.location.search);
  if (value === null) params.delete(key); else params.set(key, value);
  var q = params.toString();
  try { history.replaceState(null, "", window.location.pathname + (q ? "?" + q : "")); } catch (e) {}
}
window.addEventListener("click", function (e) {
  var g = e.target.closest ? e.target.closest("#frames > g") : null;
  if (g) {
    if (g.classList.contains("parent")) unzoom();
    else zoom(g);
    return;
  }
  if (e.target.id === "unzoom") unzoom();
  else if (e.target.id === "search") searchPrompt();
  else if (e.target.id === "ignorecase") toggleIgnoreCase();
}, false);
window.addEventListener("mouseover", function (e) {
  var g = e.target.closest ? e.target.closest("#frames > g") : null;
  if (g) details.nodeValue = svg.getAttribute("data-nametype") + " " + titleOf(g);
}, false);
window.addEventListener("mouseout", function (e) {
  var g = e.target.closest ? e.target.closest("#frames > g") : null;
  if (g) details.nodeValue = " ";
}, false);
window.addEventListener("keydown", function (e) {
  if (e.keyCode === 114 || ((e.ctrlKey || e.metaKey) && e.keyCode === 70)) { e.preventDefault(); searchPrompt(); }
  else if ((e.ctrlKey || e.metaKey) && e.keyCode === 73) { e.preventDefault(); toggleIgnoreCase(); }
  else if (e.keyCode === 27) resetSearch();
}, false);
function fitText(g, w) {
  var t = textOf(g), name = nameOf(g);
  var chars = Math.floor(w / (fontsize * fontwidth));
  t.textContent = chars < 3 ? "" : chars < name.length ? name.substring(0, chars - 2) + ".." : name;
}
function place(g, x, w) {
  var r = rectOf(g);
  r.setAttribute("x", x.toFixed(2));
  r.setAttribute("width", w.toFixed(2));
  textOf(g).setAttribute("x", (x + 3).toFixed(2));
  fitText(g, w);
}
function zoom(node) {
  var r0 = rectOf(node);
  var x0 = +r0.getAttribute("data-x"), w0 = +r0.getAttribute("data-w"), d0 = +node.getAttribute("data-d");
  var ratio = (width - 2 * xpad) / w0, eps = 0.0001;
  zoomed = node;
  unzoombtn.classList.remove("hide");
  var all = frames.children;
  for (var i = 0; i < all.length; i++) {
    var g = all[i], r = rectOf(g);
    var x = +r.getAttribute("data-x"), w = +r.getAttribute("data-w"), d = +g.getAttribute("data-d");
    g.classList.remove("parent", "hide");
    if (d < d0 && x <= x0 + eps && x + w >= x0 + w0 - eps) {
      g.classList.add("parent");
      place(g, xpad, width - 2 * xpad);
    } else if (d >= d0 && x >= x0 - eps && x + w <= x0 + w0 + eps) {
      place(g, xpad + (x - x0) * ratio, w * ratio);
    } else {
      g.classList.add("hide");
    }
  }
  setParams("x", r0.getAttribute("data-x"));
  setParams("y", r0.getAttribute("y"));
  if (searching) search(searching);
}
function unzoom() {
  zoomed = null;
  unzoombtn.classList.add("hide");
  var all = frames.children;
  for (var i = 0; i < all.length; i++) {
    var g = all[i], r = rectOf(g);
    g.classList.remove("parent", "hide");
    place(g, +r.getAttribute("data-x"), +r.getAttribute("data-w"));
  }
  setParams("x", null);
  setParams("y", null);
}
function toggleIgnoreCase() {
  ignorecase = !ignorecase;
  icbtn.classList.toggle("show", ignorecase);
  if (searching) search(searching);
}
function searchPrompt() {
  if (searching) { resetSearch(); return; }
  var term = prompt("Enter a search term (regexp allowed, eg: ^ext4_)" + (ignorecase ? ", ignoring case" : "") + "\nPress Ctrl-i to toggle case sensitivity", "");
  if (term) search(term);
}
function resetSearch() {
  var all = frames.children;
  for (var i = 0; i < all.length; i++) {
    var r = rectOf(all[i]);
    if (r.hasAttribute("data-fill")) { r.setAttribute("fill", r.getAttribute("data-fill")); r.removeAttribute("data-fill"); }
  }
  searching = null;
  searchbtn.classList.remove("show");
  searchbtn.firstChild.nodeValue = "Search";
  matchedtxt.classList.add("hide");
  matchedtxt.firstChild.nodeValue = " ";
  setParams("s", null);
}
/** Colours the frames whose name matches; prints the share of the total they cover (nested
 * matches counted once, by merging their ranges). */
function search(term) {
  var re;
  try { re = new RegExp(term, ignorecase ? "i" : ""); } catch (e) { alert("Invalid regular expression: " + e.message); return; }
  resetSearch();
  var all = frames.children, spans = [], total = width - 2 * xpad;
  for (var i = 0; i < all.length; i++) {
    var g = all[i], r = rectOf(g), w = +r.getAttribute("data-w");
    if (!re.test(nameOf(g))) continue;
    r.setAttribute("data-fill", r.getAttribute("fill"));
    r.setAttribute("fill", "rgb(230,0,230)");
    spans.push([+r.getAttribute("data-x"), w]);
  }
  searching = term;
  setParams("s", term);
  searchbtn.classList.add("show");
  searchbtn.firstChild.nodeValue = "Reset Search";
  spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
  var covered = 0, end = -Infinity;
  for (var j = 0; j < spans.length; j++) {
    var s = spans[j][0], e = s + spans[j][1];
    if (e <= end) continue;
    covered += e - Math.max(s, end);
    end = e;
  }
  var pct = total > 0 ? (100 * covered) / total : 0;
  matchedtxt.classList.remove("hide");
  matchedtxt.firstChild.nodeValue = "Matched: " + (pct === 100 ? "100" : pct.toFixed(1)) + "%";
}
`
