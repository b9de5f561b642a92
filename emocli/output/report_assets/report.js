// emocli report: the transcript follows the video, rows and the timeline seek it. No network.
(function () {
  "use strict";
  var media = document.getElementById("media");
  var tl = document.getElementById("timeline");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#transcript .utt"));
  var box = document.getElementById("transcript");
  var table = document.getElementById("modalities");
  var tableRows = {};
  if (table) {
    Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (tr) {
      tableRows[tr.getAttribute("data-i")] = tr;
    });
  }
  var duration = tl ? parseFloat(tl.getAttribute("data-duration")) || 0 : 0;
  var spans = rows.map(function (r) {
    return [parseFloat(r.getAttribute("data-start")), parseFloat(r.getAttribute("data-end"))];
  });
  var current = -1;

  function clock(t) {
    t = Math.max(0, t);
    var m = Math.floor(t / 60), s = t - 60 * m;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(1);
  }
  function indexAt(t) {
    // The latest-starting utterance that holds t (utterances of two speakers may overlap).
    var best = -1;
    for (var i = 0; i < spans.length; i++) {
      if (spans[i][0] <= t && t < spans[i][1]) best = i;
      else if (spans[i][0] > t) break;
    }
    return best;
  }
  function now() { return media ? media.currentTime || 0 : 0; }
  function update() {
    var t = now();
    if (tl && duration > 0) {
      tl.style.setProperty("--pos", (100 * Math.min(1, t / duration)).toFixed(3) + "%");
      tl.setAttribute("aria-valuenow", t.toFixed(1));
      tl.setAttribute("aria-valuetext", clock(t));
    }
    var i = indexAt(t);
    if (i === current) return;
    if (current >= 0) {
      rows[current].classList.remove("current");
      rows[current].removeAttribute("aria-current");
      var old = tableRows[rows[current].getAttribute("data-i")];
      if (old) old.classList.remove("current");
    }
    current = i;
    if (i < 0) return;
    var row = rows[i];
    row.classList.add("current");
    row.setAttribute("aria-current", "true");
    var tr = tableRows[row.getAttribute("data-i")];
    if (tr) tr.classList.add("current");
    // Keep the row in view inside the transcript box only (never scroll the page under the reader).
    var li = row.parentNode, top = li.offsetTop - box.offsetTop, bottom = top + li.offsetHeight;
    if (top < box.scrollTop || bottom > box.scrollTop + box.clientHeight) {
      box.scrollTop = Math.max(0, top - box.clientHeight / 3);
    }
  }
  function seek(t) {
    if (!media || !isFinite(t)) return;
    media.currentTime = Math.max(0, Math.min(t, duration || t));
    update();
  }
  var ticking = false;
  function loop() {
    update();
    if (media && !media.paused && !media.ended) requestAnimationFrame(loop);
    else ticking = false;
  }
  if (media) {
    ["timeupdate", "seeking", "seeked", "loadedmetadata"].forEach(function (ev) {
      media.addEventListener(ev, update);
    });
    media.addEventListener("play", function () {
      if (!ticking) { ticking = true; requestAnimationFrame(loop); }
    });
  }
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest ? ev.target.closest("[data-start]") : null;
    if (el && (el.tagName === "BUTTON")) seek(parseFloat(el.getAttribute("data-start")));
  });
  if (tl) {
    Array.prototype.forEach.call(tl.querySelectorAll(".lane-plot"), function (plot) {
      plot.addEventListener("click", function (ev) {
        var r = plot.getBoundingClientRect();
        if (r.width > 0) seek(duration * (ev.clientX - r.left) / r.width);
        tl.focus({ preventScroll: true });
      });
    });
    tl.addEventListener("keydown", function (ev) {
      var step = ev.shiftKey ? 1 : 5, t = now(), to = null;
      if (ev.key === "ArrowRight" || ev.key === "ArrowUp") to = t + step;
      else if (ev.key === "ArrowLeft" || ev.key === "ArrowDown") to = t - step;
      else if (ev.key === "PageDown") to = t + 30;
      else if (ev.key === "PageUp") to = t - 30;
      else if (ev.key === "Home") to = 0;
      else if (ev.key === "End") to = duration;
      else if (ev.key === " " || ev.key === "k") {
        if (media) {
          if (media.paused) { var p = media.play(); if (p && p.catch) p.catch(function () {}); } else media.pause();
        }
        ev.preventDefault();
        return;
      }
      if (to !== null) { ev.preventDefault(); seek(to); }
    });
  }
  var only = document.getElementById("only-dis");
  if (only && table) {
    only.addEventListener("change", function () { table.classList.toggle("only-dis", only.checked); });
  }
  update();
})();
