// "Copy" buttons: `data-copy` names the input whose value goes to the clipboard. The
// button is marked `data-copied` for a moment, whichever way the copy went.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const field = document.querySelector(button.dataset.copy);
  if (!field) return;
  field.select();
  const done = () => {
    button.dataset.copied = "1";
    setTimeout(() => delete button.dataset.copied, 1500);
  };
  const legacy = () => {
    try { document.execCommand("copy"); } catch (e) { /* the text stays selected to copy by hand */ }
    done();
  };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(field.value).then(done, legacy);
  else legacy();
});
