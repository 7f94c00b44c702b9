// Replies to start from (the incident page): the placeholders' fields fill the draft
// through the server, the one filler (views.reply_draft, as the API's render), and the
// fields and the draft are kept in this browser's localStorage per incident and template,
// so the page refreshing after every action loses nothing. Once the draft is edited by
// hand the fields stop overwriting it, until "Start over".
(function () {
  "use strict";
  var PREFIX = "crisis-desk:reply:";

  function load(key) {
    try { return JSON.parse(window.localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }
  function store(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* private mode or full: the draft lives as long as the page */ }
  }

  function copy(text, say, card) {
    function fallback() {
      text.focus();
      text.select();
      try { return document.execCommand("copy"); } catch (e) { return false; }
    }
    function done(ok) { say(ok ? card.dataset.copied : card.dataset.copyFailed); }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text.value).then(
        function () { done(true); },
        function () { done(fallback()); }
      );
    } else {
      done(fallback());
    }
  }

  function setup(box, card) {
    var key = PREFIX + box.dataset.reply;
    var text = box.querySelector(".reply-text");
    var status = box.querySelector(".reply-status");
    var inputs = Array.prototype.slice.call(box.querySelectorAll("input[data-placeholder]"));
    var csrf = box.querySelector("input[name=csrfmiddlewaretoken]").value;
    var edited = false, timer = null, asked = 0;

    function say(message) { status.textContent = message || ""; }
    function save() {
      var values = {};
      inputs.forEach(function (input) { values[input.dataset.placeholder] = input.value; });
      store(key, { values: values, text: text.value, edited: edited });
    }
    function preview() {
      var body = new FormData();
      inputs.forEach(function (input) { body.append(input.name, input.value); });
      var mine = ++asked;
      fetch(box.dataset.preview, {
        method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": csrf }
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (data) {
        // Only the latest answer counts, and never over text the person has edited.
        if (!data || mine !== asked || edited) return;
        text.value = data.text;
        save();
      }).catch(function () { /* offline: the draft stays as it was */ });
    }

    inputs.forEach(function (input) {
      input.addEventListener("input", function () {
        save();
        if (edited) { say(card.dataset.edited); return; }
        clearTimeout(timer);
        timer = setTimeout(preview, 250);
      });
    });
    text.addEventListener("input", function () {
      edited = true;
      save();
      say(card.dataset.edited);
    });
    box.querySelector("[data-copy]").addEventListener("click", function () { copy(text, say, card); });
    box.querySelector("[data-reset]").addEventListener("click", function () {
      store(key, null);
      inputs.forEach(function (input) { input.value = input.defaultValue; });
      text.value = text.defaultValue;
      edited = false;
      say("");
    });

    var kept = load(key);
    if (kept) {
      inputs.forEach(function (input) {
        var values = kept.values || {};
        if (Object.prototype.hasOwnProperty.call(values, input.dataset.placeholder)) {
          input.value = values[input.dataset.placeholder];
        }
      });
      text.value = typeof kept.text === "string" ? kept.text : text.value;
      edited = !!kept.edited;
      box.open = true;
      say(edited ? card.dataset.edited : card.dataset.saved);
      // What the incident fills may have changed (the responder after a claim).
      if (!edited) preview();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var card = document.getElementById("replies");
    if (!card) return;
    card.querySelectorAll("details.reply[data-reply]").forEach(function (box) { setup(box, card); });
  });
})();
