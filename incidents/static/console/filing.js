// The filing form sends once: a second tap while the first is on its way (a phone at night,
// a slow network) would file the incident twice when it names no source URL.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.setAttribute("aria-disabled", "true"); });
    });
  });
});
