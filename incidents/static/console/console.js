// Live countdowns to the acknowledgement deadline: amber in the last 20 % of the
// window, red once it has passed. The server renders the deadlines; this only
// keeps the numbers moving between htmx refreshes.
(function () {
  function pad(n) { return String(n).padStart(2, "0"); }
  function render(el, now) {
    var detected = Date.parse(el.dataset.detected), due = Date.parse(el.dataset.due);
    var left = Math.round((due - now) / 1000), abs = Math.abs(left);
    var text = (abs >= 3600 ? Math.floor(abs / 3600) + ":" : "") + pad(Math.floor(abs % 3600 / 60)) + ":" + pad(abs % 60);
    el.textContent = left < 0 ? "−" + text + " " + el.dataset.overdue : text;
    el.classList.toggle("red", left < 0);
    el.classList.toggle("amber", left >= 0 && (due - now) <= 0.2 * (due - detected));
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) { render(el, now); });
  }
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);
  setInterval(tick, 1000);
})();
