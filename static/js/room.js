// Giftcast room client: chat, ranking, goal, viewers and the gift tray, on top of the shared
// RoomSocket (reconnect + re-sync) and GiftAnimator (rail + big-gift stage) in gifts.js.
// Protocol: docs/protocol.md. No inline scripts (CSP).
(function () {
  "use strict";
  var G = window.Giftcast;
  var cfg = JSON.parse(document.getElementById("room-config").textContent);
  var $ = function (sel) { return document.querySelector(sel); };
  var el = {
    chat: $("[data-chat]"), viewers: $("[data-viewers]"), top: $("[data-top]"), timer: $("[data-timer]"),
    notice: $("[data-notice]"), balance: $("[data-balance]"), tray: $("[data-tray]"),
    trayMsg: $("[data-tray-msg]"), send: $("[data-send]"), quantity: $("[data-quantity]"),
    anonymous: $("[data-anonymous]"), confirm: $("[data-confirm]"),
    confirmText: $("[data-confirm-text]"), goalFill: $("[data-goal-fill]"),
    goalCoins: $("[data-goal-coins]"), chatForm: $("[data-chat-form]")
  };
  var gifts = {};
  cfg.gifts.forEach(function (g) { gifts[g.slug] = g; });
  var fmtInt = G.fmtInt;
  var money = cfg.currency ? new Intl.NumberFormat(undefined, { style: "currency", currency: cfg.currency }) : null;
  var moneyExp = money ? money.resolvedOptions().maximumFractionDigits : 0;
  var animator = new G.GiftAnimator($("[data-rail]"), $("[data-bigstage]"));
  var balance = null, selected = null;
  var pending = {};  // key -> frame, resent after a reconnect (same key: charged once)

  var socket = new G.RoomSocket(cfg.ws, handle, function (text) { notice(text); });
  socket.onOpen = function () { Object.keys(pending).forEach(function (k) { socket.send(pending[k]); }); };

  function handle(f) {
    switch (f.type) {
      case "state": return onState(f);
      case "chat": return addChat(f);
      case "gift": animator.show(f); return onRanking(f.ranking.top, f.ranking.coins);
      case "viewers": el.viewers.textContent = fmtInt.format(f.count); return;
      case "gift.ok": delete pending[f.key]; setBalance(f.balance); trayMessage(f.replayed ? "Already sent." : "Sent!"); return;
      case "error":
        if (f.key) delete pending[f.key];
        trayMessage(f.message, true);
        if (!f.key) notice(f.message, 4000);
        return;
      case "stream.ended":
        socket.closed = true;
        notice("The stream has ended.");
        setTimeout(function () { location.reload(); }, 2500);
        return;
    }
  }

  function onState(s) {
    el.viewers.textContent = fmtInt.format(s.viewers || 0);
    el.chat.textContent = "";
    (s.chat || []).forEach(function (m) { addChat(m, true); });
    onRanking(s.top || [], s.coins || 0);
    if (typeof s.balance === "number") setBalance(s.balance);
    if (s.status === "ended") handle({ type: "stream.ended" });
  }

  // ------------------------------------------------------------------ chat
  function addChat(m, old) {
    var li = document.createElement("li");
    var who = document.createElement("strong");
    who.textContent = m.user && m.user.name ? m.user.name : "";
    if (m.user && m.user.level) {
      var badge = document.createElement("span");
      badge.className = "level level-" + Math.min(5, Math.ceil(m.user.level / 10));
      badge.textContent = "Lv" + m.user.level;
      badge.title = "Gifter level in this creator's rooms";
      li.appendChild(badge);
    }
    var text = document.createElement("span");
    text.textContent = " " + m.text;  // text, never HTML
    li.appendChild(who); li.appendChild(text);
    if (cfg.canModerate && m.user && m.user.handle) {
      who.tabIndex = 0;
      who.className = "moderatable";
      who.dataset.handle = m.user.handle;
      who.title = "Moderate @" + m.user.handle;
    }
    if (old) li.className = "old";
    el.chat.appendChild(li);
    while (el.chat.children.length > 60) el.chat.removeChild(el.chat.firstChild);
    el.chat.scrollTop = el.chat.scrollHeight;
  }
  if (el.chatForm) {
    el.chatForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = el.chatForm.elements.text, text = input.value.trim();
      if (!text) return;
      if (socket.send({ type: "chat.send", text: text })) input.value = "";
      else notice("Not connected — try again in a moment.", 3000);
    });
  }

  // The creator (and staff) tap a name in chat to mute or ban that viewer.
  if (cfg.canModerate) {
    var menu = document.createElement("div");
    menu.className = "mod-menu"; menu.hidden = true;
    ["mute", "ban"].forEach(function (action) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "btn btn-sm" + (action === "ban" ? " btn-danger" : " btn-secondary");
      b.textContent = action === "ban" ? "Ban" : "Mute";
      b.addEventListener("click", function () {
        socket.send({ type: "moderate", action: action, handle: menu.dataset.handle });
        notice((action === "ban" ? "Banned @" : "Muted @") + menu.dataset.handle, 2500);
        menu.hidden = true;
      });
      menu.appendChild(b);
    });
    document.body.appendChild(menu);
    el.chat.addEventListener("click", function (ev) {
      var target = ev.target.closest(".moderatable");
      if (!target) { menu.hidden = true; return; }
      var box = target.getBoundingClientRect();
      menu.dataset.handle = target.dataset.handle;
      menu.style.left = Math.round(box.left + window.scrollX) + "px";
      menu.style.top = Math.round(box.bottom + window.scrollY + 4) + "px";
      menu.hidden = false;
    });
  }

  function onRanking(top, coins) {
    el.top.textContent = "";
    top.slice(0, 3).forEach(function (t, i) {
      var li = document.createElement("li");
      li.className = "top-" + (i + 1);
      li.title = t.name + " · " + fmtInt.format(t.coins) + " coins";
      li.textContent = t.anonymous ? "?" : t.name.replace(/^@/, "").slice(0, 1).toUpperCase();
      el.top.appendChild(li);
    });
    if (el.goalFill && cfg.goal) {
      el.goalFill.style.width = Math.min(100, (coins / cfg.goal) * 100) + "%";
      el.goalCoins.textContent = fmtInt.format(coins);
    }
  }

  // ------------------------------------------------------------------ tray
  function setBalance(n) {
    balance = n;
    if (el.balance) el.balance.textContent = fmtInt.format(n);
    updateSend();
  }
  function priceOf(coins) {
    if (!money || !cfg.coinMoney) return "";
    return money.format(Number(cfg.coinMoney) * coins / Math.pow(10, moneyExp));
  }
  function trayMessage(text, isError) {
    if (!el.trayMsg) return;
    el.trayMsg.textContent = text;
    el.trayMsg.classList.toggle("error", !!isError);
  }
  function updateSend() {
    if (!el.send) return;
    if (!selected) { el.send.disabled = true; el.send.textContent = "Pick a gift"; return; }
    var total = gifts[selected].coins * Number(el.quantity.value);
    el.send.disabled = false;
    if (balance !== null && total > balance) {
      el.send.textContent = "Recharge";
      trayMessage("Not enough coins: you have " + fmtInt.format(balance) + ".", true);
    } else {
      el.send.textContent = "Send · " + fmtInt.format(total) + " coins";
      if (el.trayMsg && el.trayMsg.classList.contains("error")) trayMessage("");
    }
  }
  function sendGift() {
    var g = gifts[selected], q = Number(el.quantity.value);
    var frame = { type: "gift.send", gift: g.slug, quantity: q, key: crypto.randomUUID(),
                  anonymous: !!(el.anonymous && el.anonymous.checked) };
    pending[frame.key] = frame;
    if (!socket.send(frame)) trayMessage("Not connected — it will be sent when the room reconnects.", true);
  }
  if (el.tray) {
    document.querySelectorAll("[data-gift]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        document.querySelectorAll("[data-gift]").forEach(function (b) { b.setAttribute("aria-selected", "false"); });
        btn.setAttribute("aria-selected", "true");
        selected = btn.dataset.gift;
        updateSend();
      });
    });
    el.quantity.addEventListener("change", updateSend);
    el.send.addEventListener("click", function () {
      if (!selected) return;
      var g = gifts[selected], total = g.coins * Number(el.quantity.value);
      if (balance !== null && total > balance) { location.href = cfg.recharge; return; }
      if (total > cfg.confirmAbove) {
        var value = priceOf(total);
        el.confirmText.textContent = "Send " + g.name + " × " + el.quantity.value + " for " +
          fmtInt.format(total) + " coins" + (value ? " (about " + value + ")" : "") + "?";
        el.confirm.returnValue = "";
        el.confirm.showModal();
      } else {
        sendGift();
      }
    });
    el.confirm.addEventListener("close", function () { if (el.confirm.returnValue === "ok") sendGift(); });
    var open = $("[data-open-tray]"), close = $("[data-close-tray]");
    if (open) open.addEventListener("click", function () { el.tray.classList.toggle("open"); });
    if (close) close.addEventListener("click", function () { el.tray.classList.remove("open"); });
  }

  // ------------------------------------------------------------------ misc
  var noticeTimer = null;
  function notice(text, ms) {
    clearTimeout(noticeTimer);
    el.notice.textContent = text;
    el.notice.hidden = !text;
    if (text && ms) noticeTimer = setTimeout(function () { el.notice.hidden = true; }, ms);
  }
  var started = new Date(cfg.startedAt).getTime();
  function tick() {
    var s = Math.max(0, Math.floor((Date.now() - started) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    el.timer.textContent = (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(sec).padStart(2, "0");
  }
  tick(); setInterval(tick, 1000);

  var video = $("video[data-hls]");
  if (video) {
    var src = video.dataset.hls;
    if (video.canPlayType("application/vnd.apple.mpegurl")) video.src = src;
    else if (window.Hls && window.Hls.isSupported()) { var hls = new window.Hls(); hls.loadSource(src); hls.attachMedia(video); }
  }
})();
