// The panel's only script (the Content-Security-Policy allows no inline ones).
// A <select data-autosubmit> submits its form when changed (the presence switch in the top bar).
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") && target.form) {
    target.form.submit();
  }
});

// Transcripts: a segment button (data-seek="12.5") moves the page's player there and plays; a link to
// /transcripts/N#t=12.5 (a search hit) opens the page at that moment.
function seekTo(seconds) {
  const player = document.querySelector("audio[data-transcript-player]");
  if (!(player instanceof HTMLAudioElement) || !Number.isFinite(seconds)) return;
  const go = () => { player.currentTime = seconds; player.play().catch(() => {}); };
  if (player.readyState >= 1) { go(); return; }
  player.addEventListener("loadedmetadata", go, { once: true });
  player.preload = "metadata";  // the page loads none until asked (preload="none")
  player.load();
}
document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-seek]") : null;
  if (button) seekTo(Number.parseFloat(button.getAttribute("data-seek") || ""));
});
document.addEventListener("DOMContentLoaded", () => {
  const match = /^#t=(\d+(?:\.\d+)?)$/.exec(window.location.hash);
  if (match) {
    const segment = document.querySelector(`[data-seek="${match[1]}"]`);
    if (segment) segment.classList.add("current");
    seekTo(Number.parseFloat(match[1]));
  }
});
