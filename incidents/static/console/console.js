// Live countdowns to the deadline that counts now (_countdown.html: claiming while
// unclaimed, resolving once claimed): amber in the last 20 % of the window, red once it has passed. The server renders the deadlines; this only
// keeps the numbers moving between htmx refreshes.
(function () {
  // Time left reads like the server's `duration` filter (incidents/templatetags/desk.py):
  // its two largest units, "4 min 12 s", "2 h 5 min", "3 d 4 h", in the page's language.
  // base.html puts the units' texts for 1, 2 and 5 on <body> (data-duration-units).
  var UNITS = [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];
  var texts = null, plural = null;
  function unit(name, count) {
    texts = texts || JSON.parse(document.body.dataset.durationUnits || "{}");
    plural = plural || new Intl.PluralRules(document.documentElement.lang || "en");
    var forms = texts[name] || ["{n} " + name, "{n} " + name, "{n} " + name];
    var form = {one: 0, two: 1, few: 1}[plural.select(count)];
    return forms[form === undefined ? 2 : form].replace("{n}", count);
  }
  function humane(seconds) {
    var parts = [], rest = seconds;
    for (var i = 0; i < UNITS.length && parts.length < 2; i++) {
      var count = Math.floor(rest / UNITS[i][1]);
      rest -= count * UNITS[i][1];
      if (count || parts.length) parts.push([UNITS[i][0], count]);
    }
    // "2 h", not "2 h 0 min"; nothing left at all is "0 s".
    var shown = parts.filter(function (part, i) { return part[1] || i === 0; });
    return shown.length ? shown.map(function (part) { return unit(part[0], part[1]); }).join(" ") : unit("s", 0);
  }
  function render(el, now) {
    var detected = Date.parse(el.dataset.detected), due = Date.parse(el.dataset.due);
    var left = Math.round((due - now) / 1000), abs = Math.abs(left);
    var text = humane(abs);
    // Past the deadline: "20 min overdue" ("просрочено на 20 мин"), the words around the time
    // from the page's language (data-overdue, with {time} where the time goes).
    el.textContent = left < 0 ? el.dataset.overdue.replace("{time}", text) : text;
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

// Messages after an action (base.html) stay at the top of the screen while scrolling;
// a confirmation fades after a few seconds, an error stays until closed.
(function () {
  function close(item) {
    var list = item.parentNode;
    item.remove();
    if (list && !list.children.length) list.remove();
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".messages li").forEach(function (item) {
      var button = item.querySelector(".dismiss");
      if (button) button.addEventListener("click", function () { close(item); });
      if (item.classList.contains("success") || item.classList.contains("info")) {
        setTimeout(function () { close(item); }, 8000);
      }
    });
  });
})();
