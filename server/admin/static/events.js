/*
 * A processor's events over a chosen range: a Chart.js chart of the minute,
 * hour or day buckets, the same series as a table, and the raw events, all
 * read from the admin's JSON (the API's events query behind the admin login).
 */
(function () {
  "use strict";

  var RAW_LIMIT = 1000;

  function seconds(value) {
    return value.length === 16 ? value + ":00" : value;  // datetime-local has no seconds
  }

  function fillTable(table, rows) {
    var body = table.querySelector("tbody");
    body.textContent = "";
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      [row.ts, row.value].forEach(function (cell) {
        var td = document.createElement("td");
        td.textContent = cell;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function Events(root) {
    this.root = root;
    this.form = document.getElementById("events-form");
    this.error = document.getElementById("events-error");
    this.canvas = document.getElementById("events-chart");
    this.chart = null;
  }

  Events.prototype.query = function (extra) {
    var params = new URLSearchParams({
      start_ts: seconds(document.getElementById("events-start").value),
      stop_ts: seconds(document.getElementById("events-stop").value)
    });
    Object.keys(extra).forEach(function (key) { params.set(key, extra[key]); });
    return fetch(this.root.dataset.url + "?" + params.toString(), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body.err) {
          throw new Error(body.msg);
        }
        return body;
      });
  };

  Events.prototype.load = function () {
    var self = this;
    var bucket = document.getElementById("events-bucket").value;
    var agg = document.getElementById("events-agg").value;
    this.error.textContent = "";
    this.root.dataset.state = "loading";
    document.querySelectorAll(".bucket-name").forEach(function (el) { el.textContent = bucket; });
    Promise.all([this.query({ bucket: bucket, agg: agg }), this.query({ limit: RAW_LIMIT })])
      .then(function (answers) {
        self.drawChart(answers[0].series, bucket, agg);
        fillTable(document.getElementById("series-table"), answers[0].series);
        fillTable(document.getElementById("events-table"), answers[1].events);
        document.getElementById("events-note").textContent = answers[1].events.length >= RAW_LIMIT
          ? "(the first " + RAW_LIMIT + ")" : "(" + answers[1].events.length + ")";
        self.root.dataset.state = "rendered";
      })
      .catch(function (err) {
        self.error.textContent = err.message;
        self.root.dataset.state = "error";
      });
  };

  Events.prototype.drawChart = function (series, bucket, agg) {
    if (this.chart) {
      this.chart.destroy();
    }
    this.chart = new window.Chart(this.canvas, {
      type: this.root.dataset.type === "traffic" ? "bar" : "line",
      data: {
        labels: series.map(function (row) { return row.ts; }),
        datasets: [{
          label: agg + " per " + bucket,
          data: series.map(function (row) { return row.value; }),
          backgroundColor: "rgba(0, 123, 255, 0.5)",
          borderColor: "rgb(0, 123, 255)",
          stepped: this.root.dataset.type !== "traffic"
        }]
      },
      options: { maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true } } }
    });
  };

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("events");
    if (!root) {
      return;
    }
    var events = new Events(root);
    if (!window.Chart) {
      events.error.textContent = "Chart.js did not load (run `npm ci` on the server); the tables still work.";
      events.drawChart = function () {};
    }
    events.form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      events.load();
    });
    events.load();
  });
})();
