// Giftcast room client: chat (with a line per gift run), ranking, goal, viewers and the gift
// tray, on top of the shared RoomSocket (reconnect + re-sync) and GiftAnimator (rail +
// big-gift stage) in gifts.js. Protocol: docs/protocol.md. No inline scripts (CSP).
(function () {
  "use strict";
  var G = window.Giftcast;
  var cfg = JSON.parse(document.getElementById("room-config").textContent);
  var $ = function (sel) { return document.querySelector(sel); };
  var $$ = function (sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); };
  var el = {
    chat: $("[data-chat]"), viewers: $("[data-viewers]"), top: $("[data-top]"), timers: $$("[data-timer]"),
    notice: $("[data-notice]"), balance: $("[data-balance]"), tray: $("[data-tray]"),
    trayMsg: $("[data-tray-msg]"), send: $("[data-send]"), grid: $("[data-gift-grid]"), picked: $("[data-picked]"),
    anonymous: $("[data-anonymous]"), confirm: $("[data-confirm]"), openTray: $("[data-open-tray]"),
    confirmText: $("[data-confirm-text]"), goal: $("[data-goal]"), goalFill: $("[data-goal-fill]"),
    goalCoins: $("[data-goal-coins]"), chatForm: $("[data-chat-form]")
  };
  var gifts = {};
  cfg.gifts.forEach(function (g) { gifts[g.slug] = g; });
  var fmtInt = G.fmtInt, coins = G.coins;
  var money = cfg.currency ? new Intl.NumberFormat(undefined, { style: "currency", currency: cfg.currency }) : null;
  var moneyExp = money ? money.resolvedOptions().maximumFractionDigits : 0;
  var phone = window.matchMedia("(max-width: 860px)");
  var animator = new G.GiftAnimator($("[data-rail]"), $("[data-bigstage]"));
  var balance = null, selected = null;
  var pending = {};  // key -> frame, resent after a reconnect (same key: charged once)

  var socket = new G.RoomSocket(cfg.ws, handle, function (text) { notice(text); });
  socket.onOpen = function () { Object.keys(pending).forEach(function (k) { socket.send(pending[k]); }); };

  function handle(f) {
    switch (f.type) {
      case "state": return onState(f);
      case "chat": return addChat(f);
      case "gift":
        if (!f.again) { animator.show(f); giftLine(f); }  // (again: shown before, gifts.js)
        return onRanking(f.ranking.top, f.ranking.coins);
      case "viewers": el.viewers.textContent = fmtInt.format(f.count); return;
      case "gift.ok": delete pending[f.key]; setBalance(f.balance); trayMessage(f.replayed ? "Already sent." : "Sent!"); return;
      case "error":  // a gift's (it carries the key) in the tray, any other on the stage
        if (f.key) { delete pending[f.key]; trayMessage(f.message, true); }
        else notice(f.message, 4000);
        return;
      case "stream.ended":
        socket.closed = true;
        notice("The stream has ended.");
        setTimeout(function () { location.reload(); }, 2500);
        return;
    }
  }

  // A state answers the first join and every sync. Its chat is merged by id rather than
  // replacing what is shown: the gift lines seen live stay (the state has none), and a line
  // already shown is not shown twice.
  function onState(s) {
    el.viewers.textContent = fmtInt.format(s.viewers || 0);
    var first = !el.chat.children.length;
    (s.chat || []).forEach(function (m) { addChat(m, first); });
    onRanking(s.top || [], s.coins || 0);
    if (typeof s.balance === "number") setBalance(s.balance);
    if (s.status === "ended") handle({ type: "stream.ended" });
  }

  // ------------------------------------------------------------------ chat
  var shown = {};   // chat message ids on screen (or once on it)
  var levels = {};  // handle -> gifter level, as the newest chat frame said
  var runs = {};    // run key -> {li, combo, count}: the gift line a run grows

  function nearBottom() { return el.chat.scrollHeight - el.chat.scrollTop - el.chat.clientHeight < 40; }
  function append(li) {
    var stick = nearBottom();
    el.chat.appendChild(li);
    while (el.chat.children.length > 60) el.chat.removeChild(el.chat.firstChild);
    if (stick) el.chat.scrollTop = el.chat.scrollHeight;  // reading further up: left there
  }
  function nameNode(user, label) {
    var who;
    if (cfg.canModerate && user.handle) {
      who = document.createElement("button");
      who.type = "button";
      who.className = "chat-name moderatable";
      who.dataset.handle = user.handle;
      who.setAttribute("aria-expanded", "false");
      who.title = "Mute or ban @" + user.handle;
    } else {
      who = document.createElement("strong");
      who.className = "chat-name";
    }
    who.textContent = label;
    return who;
  }
  function line(user, label) {
    var li = document.createElement("li");
    if (user.handle) li.dataset.handle = user.handle;
    li.appendChild(nameNode(user, label));
    badge(li, levels[user.handle] || 0);
    return li;
  }
  // The badge a line shows: the sender's level as last heard, on every line of theirs.
  function badge(li, level) {
    var b = li.querySelector(".level");
    if (!level) { if (b) b.remove(); return; }
    if (!b) {
      b = document.createElement("span");
      b.title = "Gifter level in this creator's rooms";
      li.insertBefore(b, li.firstChild);
    }
    b.className = "level level-" + Math.min(5, Math.ceil(level / 10));
    b.textContent = "Lv" + level;
  }
  function setLevel(handle, level) {
    if (!handle || levels[handle] === level) return;
    levels[handle] = level;
    Array.prototype.forEach.call(el.chat.children, function (li) {
      if (li.dataset.handle === handle) badge(li, level);
    });
  }
  function addChat(m, old) {
    if (m.id && shown[m.id]) return;
    if (m.id) shown[m.id] = true;
    var user = m.user || {};
    if (user.handle) setLevel(user.handle, user.level || 0);
    var li = line(user, user.name || "");
    var text = document.createElement("span");
    text.className = "chat-text";
    text.textContent = " " + m.text;  // text, never HTML
    li.appendChild(text);
    if (old) li.classList.add("old");
    append(li);
  }
  // "@fan sent Rose × 5": one line per run, its count growing with the combo; a combo that
  // starts again (a pause of 5 s or more) is a new run and a new line.
  function giftLine(f) {
    var key = G.runKey(f), combo = f.combo || f.quantity, run = runs[key];
    if (run && run.li.isConnected && combo > run.combo) {
      run.combo = combo;
      run.count.textContent = "× " + fmtInt.format(combo);
      return;
    }
    var s = f.sender, li = line(s.anonymous ? {} : s, G.senderName(s));
    li.classList.add("chat-gift");
    var text = document.createElement("span");
    text.className = "chat-text";
    text.textContent = " sent " + f.name + " ";
    var img = document.createElement("img");
    img.src = f.artwork; img.alt = ""; img.width = 20; img.height = 20;
    var count = document.createElement("span");
    count.className = "chat-combo";
    count.textContent = "× " + fmtInt.format(combo);
    li.appendChild(text); li.appendChild(img); li.appendChild(count);
    append(li);
    runs[key] = { li: li, combo: combo, count: count };
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

  // The creator (and staff) pick a name in chat, by click, tap or Enter, to mute or ban that
  // viewer: the choices open under the line, take focus, and Escape puts it back on the name.
  if (cfg.canModerate) {
    var menu = document.createElement("div"), opener = null;
    menu.className = "mod-menu"; menu.hidden = true;
    menu.setAttribute("role", "group");
    ["mute", "ban"].forEach(function (action) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "btn btn-sm" + (action === "ban" ? " btn-danger" : " btn-secondary");
      b.dataset.action = action;
      b.textContent = action === "ban" ? "Ban" : "Mute";
      b.addEventListener("click", function () {
        socket.send({ type: "moderate", action: action, handle: menu.dataset.handle });
        notice((action === "ban" ? "Banned @" : "Muted @") + menu.dataset.handle, 2500);
        closeMenu(true);
      });
      menu.appendChild(b);
    });
    var closeMenu = function (refocus) {
      if (menu.hidden) return;
      menu.hidden = true;
      if (opener) {
        opener.setAttribute("aria-expanded", "false");
        if (refocus && opener.isConnected) opener.focus();
      }
      opener = null;
    };
    el.chat.addEventListener("click", function (ev) {
      var target = ev.target.closest(".moderatable");
      if (!target) { if (!menu.contains(ev.target)) closeMenu(false); return; }
      if (opener === target) { closeMenu(true); return; }
      closeMenu(false);
      opener = target;
      menu.dataset.handle = target.dataset.handle;
      menu.setAttribute("aria-label", "Moderate @" + target.dataset.handle);
      menu.querySelectorAll("button").forEach(function (b) {
        b.setAttribute("aria-label", b.textContent + " @" + target.dataset.handle);
      });
      target.closest("li").appendChild(menu);
      menu.hidden = false;
      target.setAttribute("aria-expanded", "true");
      menu.querySelector("button").focus();
    });
    menu.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") { ev.preventDefault(); closeMenu(true); }
    });
  }

  function onRanking(top, total) {
    el.top.textContent = "";
    top.slice(0, 3).forEach(function (t, i) {
      var li = document.createElement("li");
      li.className = "top-" + (i + 1);
      li.title = t.name + " · " + coins(t.coins);
      li.setAttribute("aria-label", li.title);
      li.textContent = t.anonymous ? "?" : t.name.replace(/^@/, "").slice(0, 1).toUpperCase();
      el.top.appendChild(li);
    });
    if (el.goal && cfg.goal) {
      el.goalFill.style.width = Math.min(100, (total / cfg.goal) * 100) + "%";
      el.goalCoins.textContent = fmtInt.format(total);
      el.goal.setAttribute("aria-valuenow", String(Math.min(total, cfg.goal)));
      el.goal.setAttribute("aria-valuetext", fmtInt.format(total) + " of " + coins(cfg.goal));
    }
  }

  // ------------------------------------------------------------------ tray
  function setBalance(n) {
    balance = n;
    if (el.balance) el.balance.textContent = fmtInt.format(n);
    updateSend();
  }
  function quantity() {
    var q = $("[data-quantity]:checked");
    return q ? Number(q.value) : 1;
  }
  function priceOf(n) {
    if (!money || !cfg.coinMoney) return "";
    return money.format(Number(cfg.coinMoney) * n / Math.pow(10, moneyExp));
  }
  function trayMessage(text, isError) {
    if (!el.trayMsg) return;
    el.trayMsg.textContent = text;
    el.trayMsg.classList.toggle("error", !!isError);
    if (isError && text && el.tray.classList.contains("mini")) trayState("open", false);
  }
  function updateSend() {
    if (!el.send) return;
    if (!selected) { el.send.disabled = true; el.send.textContent = "Pick a gift"; return; }
    var g = gifts[selected], q = quantity(), total = g.coins * q;
    el.send.disabled = false;
    el.picked.textContent = "";
    var img = document.createElement("img");
    img.src = g.artwork; img.alt = ""; img.width = 28; img.height = 28;
    var name = document.createElement("span");
    name.textContent = "× " + fmtInt.format(q);
    el.picked.appendChild(img); el.picked.appendChild(name);
    if (balance !== null && total > balance) {
      el.send.textContent = "Recharge";
      trayMessage("Not enough coins: you have " + fmtInt.format(balance) + ".", true);
    } else {
      el.send.textContent = "Send · " + coins(total);
      if (el.trayMsg && el.trayMsg.classList.contains("error")) trayMessage("");
    }
  }
  function sendGift() {
    var g = gifts[selected];
    var frame = { type: "gift.send", gift: g.slug, quantity: quantity(), key: crypto.randomUUID(),
                  anonymous: !!(el.anonymous && el.anonymous.checked) };
    pending[frame.key] = frame;
    if (!socket.send(frame)) { trayMessage("Not connected — it will be sent when the room reconnects.", true); return; }
    shrinkTray();
  }

  // On a phone the tray is a bottom sheet: the gift button opens it; a send shrinks it to
  // its foot (the gift picked, Send again, all gifts, close) so the sender sees the gift land
  // on the stage, and it closes after MINI_MS without another send (unless a keyboard is at
  // work in it). Errors open it whole.
  var MINI_MS = 8000, miniTimer = null;
  function trayState(state, focus) {
    clearTimeout(miniTimer);
    var had = el.tray.contains(document.activeElement);
    el.tray.classList.toggle("open", state !== "closed");
    el.tray.classList.toggle("mini", state === "mini");
    if (el.openTray) el.openTray.setAttribute("aria-expanded", state === "open" ? "true" : "false");
    if (state === "mini") {
      miniTimer = setTimeout(function () {
        if (el.tray.querySelector(":focus-visible")) trayState("mini");
        else trayState("closed");
      }, MINI_MS);
    }
    if (state === "closed" && had && el.openTray) el.openTray.focus();
    if (state === "open" && focus && phone.matches) (tileOf(selected) || tiles[0]).focus();
  }
  function shrinkTray() { if (phone.matches) trayState("mini"); }

  var tiles = $$("[data-gift]");
  function tileOf(slug) { return tiles.filter(function (t) { return t.dataset.gift === slug; })[0]; }
  // The grid is one listbox: one tile in the tab order, arrows move (and pick) across it.
  function pick(tile, focus) {
    tiles.forEach(function (t) {
      t.setAttribute("aria-selected", t === tile ? "true" : "false");
      t.tabIndex = t === tile ? 0 : -1;
    });
    selected = tile.dataset.gift;
    if (focus) { tile.focus(); tile.scrollIntoView({ block: "nearest", inline: "nearest" }); }
    updateSend();
  }
  function columns() {
    var n = 0;
    while (n < tiles.length && tiles[n].offsetTop === tiles[0].offsetTop) n++;
    return n || 1;
  }
  if (el.tray) {
    tiles.forEach(function (tile) { tile.addEventListener("click", function () { pick(tile, false); }); });
    el.grid.addEventListener("keydown", function (ev) {
      var i = tiles.indexOf(document.activeElement), j;
      if (i < 0) return;
      switch (ev.key) {
        case "ArrowRight": j = i + 1; break;
        case "ArrowLeft": j = i - 1; break;
        case "ArrowDown": j = i + columns(); break;
        case "ArrowUp": j = i - columns(); break;
        case "Home": j = 0; break;
        case "End": j = tiles.length - 1; break;
        default: return;
      }
      ev.preventDefault();
      pick(tiles[Math.max(0, Math.min(tiles.length - 1, j))], true);
    });
    $$("[data-quantity]").forEach(function (q) { q.addEventListener("change", updateSend); });
    el.send.addEventListener("click", function () {
      if (!selected) return;
      var g = gifts[selected], q = quantity(), total = g.coins * q;
      if (balance !== null && total > balance) { location.href = cfg.recharge; return; }
      if (total > cfg.confirmAbove) {
        var value = priceOf(total);
        el.confirmText.textContent = "Send " + g.name + " × " + fmtInt.format(q) + " for " +
          coins(total) + (value ? " (about " + value + ")" : "") + "?";
        el.confirm.returnValue = "";
        el.confirm.showModal();
      } else {
        sendGift();
      }
    });
    el.confirm.addEventListener("close", function () { if (el.confirm.returnValue === "ok") sendGift(); });
    if (el.openTray) el.openTray.addEventListener("click", function () {
      trayState(el.tray.classList.contains("open") && !el.tray.classList.contains("mini") ? "closed" : "open", true);
    });
    $("[data-tray-more]").addEventListener("click", function () { trayState("open", true); });
    $$("[data-close-tray]").forEach(function (b) { b.addEventListener("click", function () { trayState("closed"); }); });
    el.tray.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && phone.matches && el.tray.classList.contains("open")) { ev.preventDefault(); trayState("closed"); }
    });
    // Touching the shrunk tray keeps it (the close waits for a pause); a tap outside a phone's
    // tray puts it away.
    el.tray.addEventListener("pointerdown", function () {
      if (el.tray.classList.contains("mini")) trayState("mini");
    });
    document.addEventListener("pointerdown", function (ev) {
      if (!phone.matches || !el.tray.classList.contains("open") || el.tray.contains(ev.target)) return;
      if (el.openTray && el.openTray.contains(ev.target)) return;
      if (el.confirm.contains(ev.target)) return;
      trayState("closed");
    });
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
    var text = (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(sec).padStart(2, "0");
    el.timers.forEach(function (t) { t.textContent = text; });
  }
  tick(); setInterval(tick, 1000);

  var video = $("video[data-hls]");
  if (video) {
    var src = video.dataset.hls;
    if (video.canPlayType("application/vnd.apple.mpegurl")) video.src = src;
    else if (window.Hls && window.Hls.isSupported()) { var hls = new window.Hls(); hls.loadSource(src); hls.attachMedia(video); }
  }
})();
