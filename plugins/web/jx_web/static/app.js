// 绩效之窗: the only script. A live leaderboard asks every 30 s for the id of the newest stored run
// (GET /api/latest, one indexed query) and reloads when it changed, so a branch head who keeps the
// page open sees the new ranking without pressing anything. Pages work without it.
(function () {
  "use strict";
  var run = document.getElementById("run");
  if (!run || !run.dataset.live) { return; }
  window.setInterval(function () {
    fetch("/api/latest", {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (latest) {
        if (latest && latest.run_id && latest.run_id !== run.dataset.run) { window.location.reload(); }
      })
      .catch(function () { /* offline for a moment: try again next time */ });
  }, 30000);
}());
