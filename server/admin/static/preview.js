/*
 * The processor's HLS preview, played with hls.js (from npm, served by the admin),
 * or natively where the browser plays HLS itself (Safari); beside it the live
 * count, polled from the admin's JSON every few seconds.
 */
(function () {
  "use strict";

  var RETRY_MS = 5000;
  var POLL_MS = 2000;

  function Preview(root) {
    this.root = root;
    this.video = root.querySelector("video");
    this.status = document.getElementById("preview-status");
    this.src = root.dataset.src;
    this.hls = null;
  }

  Preview.prototype.say = function (text, state) {
    this.status.textContent = text;
    this.root.dataset.state = state;
  };

  Preview.prototype.start = function () {
    var self = this;
    if (window.Hls && window.Hls.isSupported()) {
      this.startHls();
    } else if (this.video.canPlayType("application/vnd.apple.mpegurl")) {
      this.video.src = this.src;
      this.video.addEventListener("error", function () { self.retry("The preview is not available yet."); });
      this.play();
    } else {
      this.say("This browser cannot play HLS, and hls.js did not load (run `npm ci` on the server).", "error");
    }
  };

  Preview.prototype.startHls = function () {
    var self = this;
    var Hls = window.Hls;
    this.hls = new Hls({ liveSyncDurationCount: 2, manifestLoadingMaxRetry: 2 });
    this.hls.on(Hls.Events.MANIFEST_PARSED, function () { self.play(); });
    this.hls.on(Hls.Events.ERROR, function (_event, data) {
      if (!data.fatal) {
        return;
      }
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        self.hls.recoverMediaError();
        return;
      }
      self.retry(data.response && data.response.code === 404
        ? "No preview yet: the processor writes one while its camera is watched and “Write an HLS preview” is on."
        : "The preview stopped (" + data.details + ").");
    });
    this.hls.loadSource(this.src);
    this.hls.attachMedia(this.video);
    this.say("Loading the preview…", "loading");
  };

  Preview.prototype.play = function () {
    var self = this;
    var playing = this.video.play();
    this.say("Playing the preview.", "playing");
    if (playing && playing.catch) {
      playing.catch(function (err) { self.say("Press play to start the preview (" + err.name + ").", "paused"); });
    }
  };

  Preview.prototype.retry = function (text) {
    var self = this;
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
    this.say(text + " Trying again in a few seconds.", "waiting");
    window.setTimeout(function () { self.start(); }, RETRY_MS);
  };

  function pollLive(root) {
    var count = document.getElementById("live-count");
    var ts = document.getElementById("live-ts");
    var traffic = root.dataset.type === "traffic";
    function tick() {
      fetch(root.dataset.live, { credentials: "same-origin", cache: "no-store" })
        .then(function (response) { return response.json(); })
        .then(function (body) {
          if (body.err) {
            ts.textContent = body.msg;
            return;
          }
          var value = traffic ? body.last_hour : body.count;
          count.textContent = value === null || value === undefined ? "—" : value;
          ts.textContent = body.ts ? "last event " + body.ts : "no events yet";
        })
        .catch(function (err) { ts.textContent = "count unavailable (" + err + ")"; })
        .finally(function () { window.setTimeout(tick, POLL_MS); });
    }
    tick();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("preview");
    if (root) {
      new Preview(root).start();
      pollLive(root);
    }
  });
})();
