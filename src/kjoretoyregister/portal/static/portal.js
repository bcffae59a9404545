// Fiks Kjøretøyregister portal: progressive enhancements only (every page works without JS).
// Served as a static file so the Content-Security-Policy can forbid inline scripts.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // After a POST (lookup, search) the answer is below the form: move focus to its heading, or
  // to the error summary, and bring it into view. The element also has the autofocus attribute,
  // which does the same in browsers without scripts.
  var target = document.querySelector("[data-focus-on-load]");
  if (target) {
    if (document.activeElement !== target) { target.focus({ preventScroll: true }); }
    target.scrollIntoView({ block: "start" });
  }
  // Copy buttons: <button data-copy="ID"> copies the text of #ID to the clipboard.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      var status = button.parentElement.querySelector(".copy-status");
      if (!source) { return; }
      var text = source.textContent.trim();
      var done = function (ok) {
        if (status) { status.textContent = ok ? "Kopiert." : "Kunne ikke kopiere – merk og kopier teksten."; }
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
      } else {
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        done(document.execCommand && document.execCommand("copy"));
      }
    });
  });
  // Confirm destructive actions: <button data-confirm="…">.
  document.querySelectorAll("button[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
});
