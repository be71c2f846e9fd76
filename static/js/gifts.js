// Gift animations shared by the room and the OBS overlay: a side rail of small-gift banners
// with growing combos, and a queue of big gifts that play one at a time on the stage.
(function () {
  "use strict";
  var fmtInt = new Intl.NumberFormat();
  var reducedMotion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : { matches: false };
  function senderName(s) { return s.anonymous ? "Anonymous" : "@" + s.handle; }
  // One run (a combo) per sender and gift, a fan's anonymous sends being a run of their own:
  // the rail's banners and the chat's gift lines are keyed alike.
  function runKey(g) { return (g.sender.anonymous ? "anon" : g.sender.handle) + "|" + g.gift; }
  function coins(n) { return fmtInt.format(n) + (n === 1 ? " coin" : " coins"); }

  function GiftAnimator(rail, stage) {
    this.rail = rail; this.stage = stage;
    this.banners = {}; this.queue = []; this.playing = false;
  }
  GiftAnimator.prototype.show = function (g) {
    if (g.big) { this.queue.push(g); if (!this.playing) this.playNext(); return; }
    var self = this, id = runKey(g);
    var b = this.banners[id];
    if (!b) {
      var node = document.createElement("div");
      node.className = "banner";
      node.dataset.key = id;
      var img = document.createElement("img");
      img.src = g.artwork; img.alt = ""; img.width = 40; img.height = 40;
      var text = document.createElement("span"); text.className = "banner-text";
      var count = document.createElement("span"); count.className = "banner-count";
      node.appendChild(img); node.appendChild(text); node.appendChild(count);
      this.rail.appendChild(node);
      while (this.rail.children.length > 4) this.remove(this.rail.firstChild);
      b = this.banners[id] = { node: node, text: text, count: count, timer: null };
    }
    b.text.textContent = senderName(g.sender) + " sent " + g.name;
    b.count.textContent = "× " + fmtInt.format(g.combo || g.quantity);
    b.count.classList.remove("bump"); void b.count.offsetWidth; b.count.classList.add("bump");
    clearTimeout(b.timer);
    b.timer = setTimeout(function () { self.remove(b.node); }, 5000);
  };
  GiftAnimator.prototype.remove = function (node) {
    if (!node) return;
    delete this.banners[node.dataset.key];
    node.classList.add("leaving");
    setTimeout(function () { if (node.parentNode) node.parentNode.removeChild(node); }, 300);
  };
  GiftAnimator.prototype.playNext = function () {
    var self = this, g = this.queue.shift();
    if (!g) { this.playing = false; return; }
    this.playing = true;
    var box = document.createElement("div");
    box.className = "big-gift";
    var img = document.createElement("img");
    img.src = g.artwork; img.alt = g.name; img.width = 220; img.height = 220;
    var caption = document.createElement("p");
    caption.textContent = senderName(g.sender) + " sent " + g.name + (g.quantity > 1 ? " × " + g.quantity : "");
    box.appendChild(img); box.appendChild(caption);
    this.stage.appendChild(box);
    // With reduced motion the gift is shown still, fading in and out, for as long.
    var anim = box.animate(reducedMotion.matches ? [
      { opacity: 0 }, { opacity: 1, offset: .1 }, { opacity: 1, offset: .9 }, { opacity: 0 }
    ] : [
      { transform: "scale(.3) rotate(-12deg)", opacity: 0 },
      { transform: "scale(1.1) rotate(4deg)", opacity: 1, offset: .25 },
      { transform: "scale(1) rotate(0)", opacity: 1, offset: .8 },
      { transform: "scale(1.25)", opacity: 0 }
    ], { duration: 3200, easing: "ease-out" });
    anim.onfinish = function () { box.remove(); self.playNext(); };
  };

  // A room socket that reconnects with backoff and asks for state after a gap in `seq`. The
  // backoff starts again only once the room's state arrives: a server that accepts and then
  // closes at once (4503 while it can't reach the rooms) is retried ever more slowly.
  // A state can be older than frames already shown (the server shares one state among the
  // viewers asking within a couple of seconds, and a reconnect may find one): the room's
  // frames after it then include gifts shown before. They come marked `again` (known by
  // their id, which a restart of the rooms' numbering leaves alone), to bring the ranking
  // up to date without playing a gift twice.
  var GIFTS_KEPT = 1000;
  function RoomSocket(path, onFrame, onStatus) {
    this.path = path; this.onFrame = onFrame; this.onStatus = onStatus || function () {};
    this.lastSeq = 0; this.backoff = 1000; this.closed = false; this.down = false; this.ws = null;
    this.gifts = new Set();  // ids of the gift frames passed on, the last GIFTS_KEPT
    this.onOpen = function () {};
    this.connect();
  }
  RoomSocket.prototype.connect = function () {
    var self = this, proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = this.ws = new WebSocket(proto + location.host + this.path);
    ws.onopen = function () { self.syncing = false; self.onOpen(); };
    ws.onmessage = function (msg) {
      var f;
      try { f = JSON.parse(msg.data); } catch (e) { return; }
      if (f.type === "resync") { self.sync(); return; }  // fell behind: state again
      if (f.type === "error" && f.frame === "sync") {  // asked too often: ask again when told
        self.syncing = false;
        setTimeout(function () { self.sync(); }, (f.retry_after || 1) * 1000);
        return;
      }
      if (f.type === "state") {
        if (self.down) { self.down = false; self.backoff = 1000; self.onStatus(""); }
        self.lastSeq = f.seq || 0; self.syncing = false;
      }
      else if (typeof f.seq === "number") {
        if (f.seq <= self.lastSeq) return;  // already in the state, or seen
        if (self.lastSeq && f.seq > self.lastSeq + 1) self.sync();
        self.lastSeq = f.seq;
        if (f.type === "gift") self.seen(f);
      }
      self.onFrame(f);
    };
    ws.onclose = function (ev) {
      if (ev.code === 4403) { self.closed = true; self.onStatus("You can't watch this room."); return; }
      if (ev.code === 4404) { self.closed = true; self.onStatus("This room doesn't exist."); return; }
      if (self.closed) return;
      self.down = true;
      self.onStatus("Reconnecting…");
      var wait = self.backoff + Math.random() * 500;
      self.backoff = Math.min(self.backoff * 2, 15000);
      setTimeout(function () { self.connect(); }, wait);
    };
  };
  RoomSocket.prototype.seen = function (f) {
    if (this.gifts.has(f.id)) { f.again = true; return; }
    this.gifts.add(f.id);
    if (this.gifts.size > GIFTS_KEPT) this.gifts.delete(this.gifts.values().next().value);
  };
  // One `sync` at a time: the state it brings answers every gap seen meanwhile.
  RoomSocket.prototype.sync = function () {
    if (this.syncing && Date.now() - this.syncing < 10000) return;
    if (this.send({ type: "sync" })) this.syncing = Date.now();
  };
  RoomSocket.prototype.send = function (frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) { this.ws.send(JSON.stringify(frame)); return true; }
    return false;
  };

  window.Giftcast = {
    GiftAnimator: GiftAnimator, RoomSocket: RoomSocket, fmtInt: fmtInt, coins: coins,
    runKey: runKey, senderName: senderName, reducedMotion: reducedMotion
  };
})();
