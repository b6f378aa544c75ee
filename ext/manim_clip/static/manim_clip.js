// manim-clip: play clips marked data-manim-autoplay while they are on screen.
// Muted and looping, never under prefers-reduced-motion, and never restarted after
// the reader paused one. Without this script the clips simply wait for a click.
(() => {
  "use strict";
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  function start() {
    const videos = document.querySelectorAll("video[data-manim-autoplay]");
    if (!videos.length || !("IntersectionObserver" in window)) return;

    const autoPaused = new WeakSet(); // paused by us (scrolled away), not by the reader
    const visible = new WeakSet();

    function play(video) {
      if (reducedMotion.matches || video.dataset.readerPaused) return;
      video.muted = true;
      video.play().catch(() => {}); // the browser may refuse; the controls remain
    }

    function pause(video) {
      if (!video.paused) {
        autoPaused.add(video);
        video.pause();
      }
    }

    const observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          if (entry.isIntersecting) {
            visible.add(entry.target);
            play(entry.target);
          } else {
            visible.delete(entry.target);
            pause(entry.target);
          }
        }
      },
      { threshold: 0.5 },
    );

    for (const video of videos) {
      video.addEventListener("pause", () => {
        if (autoPaused.has(video)) autoPaused.delete(video);
        else video.dataset.readerPaused = "true";
      });
      video.addEventListener("play", () => delete video.dataset.readerPaused);
      observer.observe(video);
    }

    reducedMotion.addEventListener("change", () => {
      for (const video of videos) {
        if (reducedMotion.matches) pause(video);
        else if (visible.has(video)) play(video);
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
