// Giftcast room client: websocket with reconnect and re-sync, chat, gift rail, big-gift
// stage, ranking, gift tray. Protocol: docs/protocol.md. No inline scripts (CSP).
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("room-config").textContent);
  var $ = function (sel) { return document.querySelector(sel); };
  var el = {
    chat: $("[data-chat]"), rail: $("[data-rail]"), stage: $("[data-bigstage]"),
    viewers: $("[data-viewers]"), top: $("[data-top]"), timer: $("[data-timer]"),
    notice: $("[data-notice]"), balance: $("[data-balance]"), tray: $("[data-tray]"),
    trayMsg: $("[data-tray-msg]"), send: $("[data-send]"), quantity: $("[data-quantity]"),
    anonymous: $("[data-anonymous]"), confirm: $("[data-confirm]"),
    confirmText: $("[data-confirm-text]"), goalFill: $("[data-goal-fill]"),
    goalCoins: $("[data-goal-coins]"), chatForm: $("[data-chat-form]")
  };
  var gifts = {};
  cfg.gifts.forEach(function (g) { gifts[g.slug] = g; });
  var fmtInt = new Intl.NumberFormat();
  var money = cfg.currency ? new Intl.NumberFormat(undefined, { style: "currency", currency: cfg.currency }) : null;
  var moneyExp = money ? money.resolvedOptions().maximumFractionDigits : 0;

  var ws = null, lastSeq = 0, backoff = 1000, closedForGood = false;
  var balance = null, selected = null;
  var pending = {};  // key -> frame, resent after a reconnect (same key: charged once)

  // ------------------------------------------------------------------ socket
  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(proto + location.host + cfg.ws);
    ws.onopen = function () {
      backoff = 1000;
      notice("");
      Object.keys(pending).forEach(function (k) { send(pending[k]); });
    };
    ws.onmessage = function (msg) {
      var frame;
      try { frame = JSON.parse(msg.data); } catch (e) { return; }
      handle(frame);
    };
    ws.onclose = function (ev) {
      if (ev.code === 4403) { closedForGood = true; notice("You can't watch this room."); return; }
      if (ev.code === 4404) { closedForGood = true; notice("This room doesn't exist."); return; }
      if (closedForGood) return;
      notice("Reconnecting…");
      var wait = backoff + Math.random() * 500;
      backoff = Math.min(backoff * 2, 15000);
      setTimeout(connect, wait);
    };
  }
  function send(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function handle(f) {
    if (typeof f.seq === "number" && f.type !== "state") {
      if (lastSeq && f.seq > lastSeq + 1) send({ type: "sync" });  // missed something
      lastSeq = Math.max(lastSeq, f.seq);
    }
    switch (f.type) {
      case "state": return onState(f);
      case "chat": return addChat(f);
      case "gift": return onGift(f);
      case "ranking": return onRanking(f.top, f.coins);
      case "viewers": el.viewers.textContent = fmtInt.format(f.count); return;
      case "gift.ok": delete pending[f.key]; setBalance(f.balance); trayMessage(f.replayed ? "Already sent." : "Sent!"); return;
      case "error": if (f.key) delete pending[f.key]; trayMessage(f.message, true); if (!f.key) notice(f.message, 4000); return;
      case "moderation": return;
      case "stream.ended": closedForGood = true; notice("The stream has ended."); setTimeout(function () { location.reload(); }, 2500); return;
    }
  }

  function onState(s) {
    lastSeq = s.seq || 0;
    el.viewers.textContent = fmtInt.format(s.viewers || 0);
    el.chat.textContent = "";
    (s.chat || []).forEach(function (m) { addChat(m, true); });
    onRanking(s.top || [], s.coins || 0);
    if (typeof s.balance === "number") setBalance(s.balance);
    if (s.status === "ended") handle({ type: "stream.ended" });
  }

  // ------------------------------------------------------------------ chat
  function addChat(m, quiet) {
    var li = document.createElement("li");
    var who = document.createElement("strong");
    who.textContent = m.user && m.user.name ? m.user.name : "";
    var text = document.createElement("span");
    text.textContent = " " + m.text;  // text, never HTML
    li.appendChild(who); li.appendChild(text);
    if (quiet) li.className = "old";
    el.chat.appendChild(li);
    while (el.chat.children.length > 60) el.chat.removeChild(el.chat.firstChild);
    el.chat.scrollTop = el.chat.scrollHeight;
  }
  if (el.chatForm) {
    el.chatForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = el.chatForm.elements.text, text = input.value.trim();
      if (!text) return;
      if (send({ type: "chat.send", text: text })) input.value = "";
      else notice("Not connected — try again in a moment.", 3000);
    });
  }

  // ------------------------------------------------------------------ gifts
  var banners = {};  // sender+gift -> {node, timer}
  function senderName(s) { return s.anonymous ? "Anonymous" : "@" + s.handle; }

  function onGift(g) {
    if (g.big) { enqueueBig(g); return; }
    var id = (g.sender.anonymous ? "anon" : g.sender.handle) + "|" + g.gift;
    var b = banners[id];
    if (!b) {
      var node = document.createElement("div");
      node.className = "banner";
      var img = document.createElement("img");
      img.src = g.artwork; img.alt = ""; img.width = 40; img.height = 40;
      var text = document.createElement("span");
      text.className = "banner-text";
      var count = document.createElement("span");
      count.className = "banner-count";
      node.appendChild(img); node.appendChild(text); node.appendChild(count);
      el.rail.appendChild(node);
      while (el.rail.children.length > 4) removeBanner(el.rail.firstChild);
      b = banners[id] = { node: node, text: text, count: count, timer: null };
      node.dataset.key = id;
    }
    b.text.textContent = senderName(g.sender) + " sent " + g.name;
    b.count.textContent = "× " + fmtInt.format(g.combo || g.quantity);
    b.count.classList.remove("bump"); void b.count.offsetWidth; b.count.classList.add("bump");
    clearTimeout(b.timer);
    b.timer = setTimeout(function () { removeBanner(b.node); }, 5000);
  }
  function removeBanner(node) {
    if (!node) return;
    delete banners[node.dataset.key];
    node.classList.add("leaving");
    setTimeout(function () { if (node.parentNode) node.parentNode.removeChild(node); }, 300);
  }

  var bigQueue = [], bigPlaying = false;
  function enqueueBig(g) { bigQueue.push(g); if (!bigPlaying) playBig(); }
  function playBig() {
    var g = bigQueue.shift();
    if (!g) { bigPlaying = false; return; }
    bigPlaying = true;
    var box = document.createElement("div");
    box.className = "big-gift";
    var img = document.createElement("img");
    img.src = g.artwork; img.alt = g.name; img.width = 220; img.height = 220;
    var caption = document.createElement("p");
    caption.textContent = senderName(g.sender) + " sent " + g.name + (g.quantity > 1 ? " × " + g.quantity : "");
    box.appendChild(img); box.appendChild(caption);
    el.stage.appendChild(box);
    var anim = box.animate([
      { transform: "scale(.3) rotate(-12deg)", opacity: 0 },
      { transform: "scale(1.1) rotate(4deg)", opacity: 1, offset: .25 },
      { transform: "scale(1) rotate(0)", opacity: 1, offset: .8 },
      { transform: "scale(1.25)", opacity: 0 }
    ], { duration: 3200, easing: "ease-out" });
    anim.onfinish = function () { box.remove(); playBig(); };
  }

  function onRanking(top, coins) {
    el.top.textContent = "";
    top.slice(0, 3).forEach(function (t, i) {
      var li = document.createElement("li");
      li.className = "top-" + (i + 1);
      li.title = t.name + " · " + fmtInt.format(t.coins) + " coins";
      li.textContent = (t.anonymous ? "?" : t.name.replace(/^@/, "").slice(0, 1).toUpperCase());
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
    el.send.textContent = "Send · " + fmtInt.format(total) + " coins";
    if (balance !== null && total > balance) {
      trayMessage("Not enough coins: you have " + fmtInt.format(balance) + ". Recharge to send this.", true);
    } else if (el.trayMsg && el.trayMsg.classList.contains("error")) {
      trayMessage("");
    }
  }
  function sendGift() {
    var g = gifts[selected], q = Number(el.quantity.value), total = g.coins * q;
    if (balance !== null && total > balance) { location.href = cfg.recharge; return; }
    var frame = { type: "gift.send", gift: g.slug, quantity: q, key: crypto.randomUUID(),
                  anonymous: !!(el.anonymous && el.anonymous.checked) };
    pending[frame.key] = frame;
    if (!send(frame)) trayMessage("Not connected — it will be sent when the room reconnects.");
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
      if (total > cfg.confirmAbove && (balance === null || total <= balance)) {
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
    var open = document.querySelector("[data-open-tray]"), close = document.querySelector("[data-close-tray]");
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

  var video = document.querySelector("video[data-hls]");
  if (video) {
    var src = video.dataset.hls;
    if (video.canPlayType("application/vnd.apple.mpegurl")) video.src = src;
    else if (window.Hls && window.Hls.isSupported()) { var hls = new window.Hls(); hls.loadSource(src); hls.attachMedia(video); }
  }
  connect();
})();
