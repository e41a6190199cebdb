// Copy buttons: <button data-copy-target="ID"> copies the value of #ID and says so.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copyTarget);
  field.select();
  const done = () => {
    const status = document.getElementById(button.dataset.copyStatus);
    if (status) status.textContent = "Copied to the clipboard.";
  };
  if (navigator.clipboard) {
    navigator.clipboard.writeText(field.value).then(done, () => document.execCommand("copy") && done());
  } else if (document.execCommand("copy")) {
    done();
  }
});
