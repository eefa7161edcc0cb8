// audiencesync web UI: the only script. Every page reads without it; it
// shows times in the viewer's time zone and follows a run in progress.
(function () {
  "use strict";
  var fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });
  var axisFmt = new Intl.DateTimeFormat(undefined, {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"
  });
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "your time zone";

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) { return; }
      if (!el.title) { el.title = el.textContent; }
      el.textContent = fmt.format(d);
    });
    root.querySelectorAll("[data-zone]").forEach(function (el) { el.textContent = "your time zone (" + zone + ")"; });
    // The size charts: axis dates, the axis title's zone, each point's tip.
    root.querySelectorAll("text[data-time]").forEach(function (el) {
      var d = new Date(el.getAttribute("data-time"));
      if (!isNaN(d)) { el.textContent = axisFmt.format(d); }
    });
    root.querySelectorAll("text[data-axis-zone]").forEach(function (el) {
      el.textContent = "run finished (" + zone + ") \u00b7 members";
    });
    root.querySelectorAll("title[data-time]").forEach(function (el) {
      var d = new Date(el.getAttribute("data-time"));
      if (!isNaN(d)) { el.textContent = fmt.format(d) + (el.getAttribute("data-suffix") || ""); }
    });
  }

  function n(v) { return Number(v).toLocaleString("en-US"); }

  function follow(box) {
    if (!window.EventSource) { return; }
    var es = new EventSource(box.getAttribute("data-live"));
    function set(field, text) {
      var el = box.querySelector('[data-field="' + field + '"]');
      if (el) { el.textContent = text; }
    }
    es.addEventListener("progress", function (ev) {
      var p = JSON.parse(ev.data);
      set("step", p.step.charAt(0).toUpperCase() + p.step.slice(1) + "…");
      set("read", n(p.read)); set("valid", n(p.valid));
      set("duplicates", n(p.duplicates)); set("rejected", n(p.rejected));
      var list = box.querySelector('[data-field="destinations"]');
      if (list) {
        list.replaceChildren();
        p.destinations.forEach(function (d) {
          var li = document.createElement("li");
          var name = document.createElement("strong");
          name.textContent = d.name;
          li.append(name, ": " + d.status + (d.total ? " — " + n(d.settled) + " of " + n(d.total) : ""));
          list.append(li);
        });
      }
    });
    es.addEventListener("done", function () { es.close(); window.location.reload(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    document.querySelectorAll("[data-live]").forEach(follow);
  });
})();
