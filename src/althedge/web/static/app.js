// althedge dashboard: a little JavaScript where it earns its place (charts, refresh, progress).
"use strict";
var althedge = (function () {
  function fmt(value, spec, suffix) {
    if (value === null || value === undefined || value === "" || Number.isNaN(value)) return "—";
    if (spec === "s") return String(value);
    var x = Number(value);
    var m = /^([+]?)(,?)\.?(\d*)([fg%]?)$/.exec(spec || ",.2f") || [];
    var plus = m[1] === "+", group = m[2] === ",", digits = m[3] === "" ? 6 : Number(m[3]);
    var text;
    if (m[4] === "g") {
      text = String(Number(x.toPrecision(digits || 6)));
    } else {
      text = x.toLocaleString("en-US", {minimumFractionDigits: digits, maximumFractionDigits: digits,
                                        useGrouping: group});
    }
    if (plus && x >= 0) text = "+" + text;
    return text + (suffix || "");
  }
  function plot(id, figure) {
    var el = document.getElementById(id);
    if (!el || !window.Plotly) return;
    Plotly.newPlot(el, figure.data, figure.layout, {responsive: true, displaylogo: false});
  }
  function historyCharts(h) {
    if (!h || !h.snapshots || !h.snapshots.length || !window.Plotly) return;
    var t = h.snapshots.map(function (s) { return s.as_of || s.at; });
    var col = function (k) { return h.snapshots.map(function (s) { return s[k]; }); };
    var layout = function (title, y) {
      return {title: {text: title}, height: 320, margin: {l: 60, r: 20, t: 40, b: 40}, yaxis: {title: {text: y}},
              legend: {orientation: "h"}};
    };
    Plotly.newPlot("chart-ratio", [
      {x: t, y: col("hedge_ratio_achieved"), name: "hedge ratio", mode: "lines+markers"},
      {x: t, y: col("current_beta"), name: "beta now", mode: "lines+markers"},
      {x: t, y: col("target_beta"), name: "beta at open", mode: "lines", line: {dash: "dash"}}
    ], layout("Hedge ratio and beta over time", ""), {displaylogo: false});
    Plotly.newPlot("chart-funding", [
      {x: t, y: col("funding_usd"), name: "funding so far", mode: "lines+markers", fill: "tozeroy"},
      {x: t, y: col("unrealised_pnl_usd"), name: "hedge PnL", mode: "lines"},
      {x: t, y: col("portfolio_pnl_usd"), name: "portfolio PnL", mode: "lines"}
    ], layout("Cumulative funding and PnL", "USD"), {displaylogo: false});
  }
  function refreshStatus(ms) {
    setInterval(function () {
      fetch("/api/hedge/status").then(function (r) { return r.json(); }).then(function (s) {
        if (s.error) return;
        document.querySelectorAll("#status [data-key], #hedge-head [data-key]").forEach(function (el) {
          var k = el.getAttribute("data-key");
          if (!(k in s)) return;
          el.setAttribute("data-value", s[k] === null ? "" : s[k]);
          el.textContent = fmt(s[k], el.getAttribute("data-spec"), s[k] === null ? "" : el.getAttribute("data-suffix"));
        });
        var r = document.getElementById("refreshed");
        if (r) r.textContent = "refreshed " + new Date().toLocaleTimeString();
      }).catch(function () {});
    }, ms);
  }
  function startBacktest(form) {
    var err = document.getElementById("backtest-error");
    var box = document.getElementById("progress");
    err.hidden = true;
    box.hidden = false;
    document.getElementById("backtest-result").innerHTML = "";
    fetch("/api/backtest", {method: "POST", body: new URLSearchParams(new FormData(form))})
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (j.error) throw new Error(j.error);
        poll(j.job);
      })
      .catch(function (e) { box.hidden = true; err.hidden = false; err.textContent = "error: " + e.message; });
    return false;
  }
  function poll(id) {
    fetch("/api/backtest/" + id).then(function (r) { return r.json(); }).then(function (j) {
      document.getElementById("progress-bar").style.width = Math.round(100 * j.fraction) + "%";
      document.getElementById("progress-label").textContent = j.label + " · " + Math.round(100 * j.fraction) + " %";
      if (j.state === "running") { setTimeout(function () { poll(id); }, 500); return; }
      document.getElementById("progress").hidden = true;
      if (j.state === "failed") {
        var err = document.getElementById("backtest-error");
        err.hidden = false; err.textContent = "error: " + j.error; return;
      }
      showBacktest(id, j.result);
    });
  }
  function showBacktest(id, res) {
    var rows = res.policies.map(function (p) {
      var m = p.metrics;
      return "<tr><td>" + p.rank + "</td><td>" + p.name + "</td><td data-key='final_value_hedged_usd' data-value='" +
        m.final_value_hedged_usd + "'>" + fmt(m.final_value_hedged_usd, ",.0f") + "</td><td>" +
        fmt(m.return_hedged_pct, "+,.0f", " %") + "</td><td>" + fmt(m.max_drawdown_hedged_committed * 100, ".0f", " %") +
        "</td><td data-key='hedge_effectiveness' data-value='" + m.hedge_effectiveness + "'>" +
        fmt(m.hedge_effectiveness * 100, ".1f", " %") + "</td><td>" + fmt(m.funding_received_usd, ",.0f") +
        "</td><td>" + fmt(m.fees_paid_usd + m.slippage_paid_usd, ",.0f") + "</td><td>" + m.liquidations + "</td></tr>";
    }).join("");
    document.getElementById("backtest-result").innerHTML =
      "<p class='sub'>" + res.portfolio_name + " · " + res.start + " → " + res.end + " (" + res.bars + " " +
      res.timeframe + " bars, out of sample) · ranked by " + res.rank_by + "</p>" +
      "<table id='backtest-table'><thead><tr><th>#</th><th>policy</th><th>final USD</th><th>return</th>" +
      "<th>max DD</th><th>HE</th><th>funding recv USD</th><th>fees+slip USD</th><th>liq</th></tr></thead><tbody>" +
      rows + "</tbody></table><p><a href='/backtest/" + id + "/report.html' target='_blank' id='report-link'>" +
      "Open the full report</a></p><iframe id='report' src='/backtest/" + id + "/report.html'></iframe>";
  }
  return {fmt: fmt, plot: plot, historyCharts: historyCharts, refreshStatus: refreshStatus,
          startBacktest: startBacktest};
})();
