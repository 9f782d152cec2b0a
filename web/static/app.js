// The panel's only script (the Content-Security-Policy allows no inline ones).
// A <select data-autosubmit> submits its form when changed (the presence switch in the top bar).
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") && target.form) {
    target.form.submit();
  }
});
