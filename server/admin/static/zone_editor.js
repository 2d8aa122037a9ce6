/*
 * Zone editor: polygons drawn on the camera's current frame, saved as relative
 * coordinates (0..1) into the form's hidden "zones" input as JSON.
 *
 * Click: add a point to the selected zone. Drag a point: move it. Double-click a
 * point: remove it. Buttons: new zone, remove last point, delete zone, reload frame.
 * The frame comes through the server (/admin/camera/frame/<id>); when the camera
 * is offline the server answers with its last known size, and zones are drawn on
 * an empty canvas of that shape (16:9 if the camera was never seen).
 */
(function () {
  "use strict";

  var HIT_PX = 10;
  var COLORS = ["#ff3b30", "#34c759", "#007aff", "#ff9500", "#af52de", "#5ac8fa", "#ffcc00"];
  var DEFAULT_SIZE = { w: 1280, h: 720 };
  var MAX_HEIGHT_SHARE = 0.7;

  function clamp01(value) {
    return Math.min(1, Math.max(0, value));
  }

  function round4(value) {
    return Math.round(value * 10000) / 10000;
  }

  function ZoneEditor(root) {
    this.root = root;
    this.input = document.getElementById(root.dataset.input);
    this.cameraSelect = document.getElementById(root.dataset.cameraSelect);
    this.canvas = root.querySelector("canvas");
    this.status = root.querySelector("#zone-status");
    this.frameBase = root.dataset.frameBase;
    this.zones = this.parse(this.input.value);
    this.active = this.zones.length - 1;
    this.drag = null;
    this.image = null;
    this.size = DEFAULT_SIZE;
    this.note = "";
    this.bind();
    this.resize();
    this.loadFrame();
  }

  ZoneEditor.prototype.parse = function (text) {
    try {
      var zones = JSON.parse(text || "[]");
      return Array.isArray(zones) ? zones.filter(Array.isArray) : [];
    } catch (err) {
      return [];
    }
  };

  ZoneEditor.prototype.bind = function () {
    var self = this;
    this.canvas.addEventListener("pointerdown", function (ev) { self.onDown(ev); });
    this.canvas.addEventListener("pointermove", function (ev) { self.onMove(ev); });
    this.canvas.addEventListener("pointerup", function () { self.onUp(); });
    this.canvas.addEventListener("dblclick", function (ev) { self.onDoubleClick(ev); });
    window.addEventListener("resize", function () { self.resize(); });
    this.root.querySelectorAll("[data-zone-action]").forEach(function (button) {
      button.addEventListener("click", function () { self.action(button.dataset.zoneAction); });
    });
    if (this.cameraSelect) {
      this.cameraSelect.addEventListener("change", function () { self.loadFrame(); });
    }
  };

  /* ---- the frame ------------------------------------------------------------ */
  ZoneEditor.prototype.loadFrame = function () {
    var self = this;
    var cameraId = this.cameraSelect ? this.cameraSelect.value : "";
    this.image = null;
    if (!cameraId) {
      this.setFrame(null, DEFAULT_SIZE, "Choose a camera to see its picture.", "offline");
      return;
    }
    this.root.dataset.state = "loading";
    this.note = "Fetching the camera's current frame…";
    this.draw();
    fetch(this.frameBase + encodeURIComponent(cameraId), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (response.ok && type.indexOf("image/") === 0) {
          return response.blob().then(function (blob) { self.showBlob(blob); });
        }
        return response.json().then(function (body) { self.showOffline(body); });
      })
      .catch(function (err) {
        self.setFrame(null, DEFAULT_SIZE, "Could not fetch a frame (" + err + "); drawing on a 16:9 canvas.",
          "offline");
      });
  };

  ZoneEditor.prototype.showBlob = function (blob) {
    var self = this;
    var image = new Image();
    image.onload = function () {
      self.setFrame(image, { w: image.naturalWidth, h: image.naturalHeight },
        "Camera frame " + image.naturalWidth + "×" + image.naturalHeight + ".", "ready");
    };
    image.onerror = function () {
      self.setFrame(null, DEFAULT_SIZE, "The frame could not be decoded; drawing on a 16:9 canvas.", "offline");
    };
    image.src = URL.createObjectURL(blob);
  };

  ZoneEditor.prototype.showOffline = function (body) {
    var size = body && body.width && body.height ? { w: body.width, h: body.height } : DEFAULT_SIZE;
    var shape = body && body.size_known ? "its last known size " + size.w + "×" + size.h
      : "16:9 (the camera was never seen)";
    var msg = (body && body.msg) || "No frame from the camera.";
    this.setFrame(null, size, msg + " Drawing on an empty canvas of " + shape + ".", "offline");
  };

  ZoneEditor.prototype.setFrame = function (image, size, note, state) {
    this.image = image;
    this.size = size;
    this.note = note;
    this.root.dataset.state = state;
    this.resize();
  };

  /* ---- geometry ---------------------------------------------------------------- */
  /* As wide as the column, but never taller than most of the window, keeping the frame's shape. */
  ZoneEditor.prototype.resize = function () {
    var width = this.canvas.parentElement.clientWidth || 640;
    var ratio = window.devicePixelRatio || 1;
    var maxHeight = Math.max(240, window.innerHeight * MAX_HEIGHT_SHARE);
    var height = Math.round(width * this.size.h / this.size.w);
    if (height > maxHeight) {
      height = Math.round(maxHeight);
      width = Math.round(height * this.size.w / this.size.h);
    }
    this.canvas.style.width = width + "px";
    this.canvas.style.height = height + "px";
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    this.draw();
  };

  ZoneEditor.prototype.relative = function (ev) {
    var rect = this.canvas.getBoundingClientRect();
    return [round4(clamp01((ev.clientX - rect.left) / rect.width)),
      round4(clamp01((ev.clientY - rect.top) / rect.height))];
  };

  /* The vertex under the pointer (within HIT_PX screen pixels), preferring the selected zone. */
  ZoneEditor.prototype.hit = function (ev) {
    var rect = this.canvas.getBoundingClientRect();
    var best = null;
    var bestDist = HIT_PX;
    var self = this;
    this.zones.forEach(function (zone, z) {
      zone.forEach(function (point, p) {
        var dx = point[0] * rect.width - (ev.clientX - rect.left);
        var dy = point[1] * rect.height - (ev.clientY - rect.top);
        var dist = Math.sqrt(dx * dx + dy * dy) - (z === self.active ? 0.5 : 0);
        if (dist <= bestDist) {
          best = { zone: z, point: p };
          bestDist = dist;
        }
      });
    });
    return best;
  };

  /* ---- editing ---------------------------------------------------------------- */
  ZoneEditor.prototype.onDown = function (ev) {
    if (ev.button !== undefined && ev.button !== 0) {
      return;
    }
    ev.preventDefault();
    var found = this.hit(ev);
    if (found) {
      this.active = found.zone;
      this.drag = found;
      this.canvas.setPointerCapture(ev.pointerId);
    } else {
      if (this.active < 0 || !this.zones[this.active]) {
        this.zones.push([]);
        this.active = this.zones.length - 1;
      }
      this.zones[this.active].push(this.relative(ev));
      this.commit();
    }
    this.draw();
  };

  ZoneEditor.prototype.onMove = function (ev) {
    if (!this.drag) {
      return;
    }
    this.zones[this.drag.zone][this.drag.point] = this.relative(ev);
    this.draw();
  };

  ZoneEditor.prototype.onUp = function () {
    if (this.drag) {
      this.drag = null;
      this.commit();
    }
  };

  ZoneEditor.prototype.onDoubleClick = function (ev) {
    var found = this.hit(ev);
    if (!found) {
      return;
    }
    this.zones[found.zone].splice(found.point, 1);
    this.active = found.zone;
    this.dropEmpty();
    this.commit();
    this.draw();
  };

  ZoneEditor.prototype.action = function (name) {
    if (name === "new") {
      this.dropEmpty();
      this.zones.push([]);
      this.active = this.zones.length - 1;
    } else if (name === "undo" && this.zones[this.active]) {
      this.zones[this.active].pop();
      this.dropEmpty();
    } else if (name === "delete" && this.zones[this.active]) {
      this.zones.splice(this.active, 1);
      this.active = this.zones.length - 1;
    } else if (name === "reload") {
      this.loadFrame();
      return;
    }
    this.commit();
    this.draw();
  };

  /* Zones left without points vanish, except the one being started. */
  ZoneEditor.prototype.dropEmpty = function () {
    var activeZone = this.zones[this.active];
    this.zones = this.zones.filter(function (zone) { return zone.length > 0; });
    this.active = activeZone ? this.zones.indexOf(activeZone) : -1;
    if (this.active < 0) {
      this.active = this.zones.length - 1;
    }
  };

  /* Write the zones into the form, and say what the server will refuse. */
  ZoneEditor.prototype.commit = function () {
    var zones = this.zones.filter(function (zone) { return zone.length > 0; });
    this.input.value = JSON.stringify(zones);
    var short = [];
    zones.forEach(function (zone, i) {
      if (zone.length < 3) {
        short.push(i + 1);
      }
    });
    this.problem = short.length ? "Zone " + short.join(", ") + " needs at least 3 points." : "";
  };

  /* ---- drawing ---------------------------------------------------------------- */
  ZoneEditor.prototype.draw = function () {
    var ctx = this.canvas.getContext("2d");
    var w = this.canvas.width;
    var h = this.canvas.height;
    ctx.clearRect(0, 0, w, h);
    if (this.image) {
      ctx.drawImage(this.image, 0, 0, w, h);
    } else {
      this.drawEmpty(ctx, w, h);
    }
    var self = this;
    this.zones.forEach(function (zone, z) { self.drawZone(ctx, zone, z, w, h); });
    this.showStatus();
  };

  ZoneEditor.prototype.drawEmpty = function (ctx, w, h) {
    var ratio = window.devicePixelRatio || 1;
    ctx.fillStyle = "#2b2b2b";
    ctx.fillRect(0, 0, w, h);
    ctx.fillStyle = "rgba(255,255,255,0.35)";
    ctx.font = (16 * ratio) + "px sans-serif";
    ctx.textAlign = "center";
    ctx.fillText(this.root.dataset.state === "loading" ? "Fetching the picture…" : "No picture from the camera",
      w / 2, h / 2);
    ctx.textAlign = "start";
    ctx.strokeStyle = "rgba(255,255,255,0.08)";
    ctx.lineWidth = 1;
    for (var i = 1; i < 10; i++) {
      ctx.beginPath();
      ctx.moveTo(w * i / 10, 0);
      ctx.lineTo(w * i / 10, h);
      ctx.moveTo(0, h * i / 10);
      ctx.lineTo(w, h * i / 10);
      ctx.stroke();
    }
  };

  ZoneEditor.prototype.drawZone = function (ctx, zone, z, w, h) {
    var ratio = window.devicePixelRatio || 1;
    var color = COLORS[z % COLORS.length];
    var selected = z === this.active;
    ctx.beginPath();
    zone.forEach(function (point, p) {
      var method = p === 0 ? "moveTo" : "lineTo";
      ctx[method](point[0] * w, point[1] * h);
    });
    if (zone.length >= 3) {
      ctx.closePath();
      ctx.globalAlpha = selected ? 0.35 : 0.2;
      ctx.fillStyle = color;
      ctx.fill();
      ctx.globalAlpha = 1;
    }
    ctx.strokeStyle = color;
    ctx.lineWidth = (selected ? 3 : 2) * ratio;
    ctx.setLineDash(zone.length >= 3 ? [] : [6 * ratio, 4 * ratio]);
    ctx.stroke();
    ctx.setLineDash([]);
    zone.forEach(function (point) {
      ctx.beginPath();
      ctx.arc(point[0] * w, point[1] * h, (selected ? 6 : 4) * ratio, 0, 2 * Math.PI);
      ctx.fillStyle = selected ? "#fff" : color;
      ctx.fill();
      ctx.strokeStyle = color;
      ctx.lineWidth = 2 * ratio;
      ctx.stroke();
    });
    if (zone.length) {
      ctx.font = (14 * ratio) + "px sans-serif";
      ctx.fillStyle = color;
      ctx.fillText("Zone " + (z + 1), zone[0][0] * w + 8 * ratio, zone[0][1] * h - 8 * ratio);
    }
  };

  ZoneEditor.prototype.showStatus = function () {
    var count = this.zones.filter(function (zone) { return zone.length > 0; }).length;
    var summary = count ? count + " zone(s)" + (this.active >= 0 ? "; zone " + (this.active + 1) + " selected." : ".")
      : "No zone: the whole frame counts.";
    this.status.textContent = [this.note, summary, this.problem || ""].join(" ").trim();
    this.status.className = "small mt-1 mb-0" + (this.problem ? " text-danger" : "");
  };

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("zone-editor");
    if (root) {
      window.zoneEditor = new ZoneEditor(root);
    }
  });
})();
