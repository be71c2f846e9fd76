// OBS overlay: the room's gift animations and goal bar on a transparent page.
(function () {
  "use strict";
  var G = window.Giftcast;
  var cfg = JSON.parse(document.getElementById("overlay-config").textContent);
  var animator = new G.GiftAnimator(document.querySelector("[data-rail]"), document.querySelector("[data-bigstage]"));
  var fill = document.querySelector("[data-goal-fill]"), label = document.querySelector("[data-goal-coins]");
  function goal(coins) {
    if (!fill || !cfg.goal) return;
    fill.style.width = Math.min(100, (coins / cfg.goal) * 100) + "%";
    label.textContent = G.fmtInt.format(coins);
  }
  new G.RoomSocket(cfg.ws, function (f) {
    if (f.type === "gift") { if (!f.again) animator.show(f); goal(f.ranking.coins); }
    else if (f.type === "state") goal(f.coins || 0);
  });
})();
