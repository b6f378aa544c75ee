// manim-clip: play clips marked data-manim-autoplay while they are on screen.
// Muted and looping, never under prefers-reduced-motion, and never restarted after
// the reader paused one. Without this script the clips simply wait for a click.
// Also: the "Copy" button of each clip's Embed box (without the script, the box's
// text is there to select and copy by hand).
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

  // Copy with the Clipboard API where the page may; else select the text and try the
  // older copy command; else leave it selected and say how to copy it.
  function copyButtons() {
    for (const button of document.querySelectorAll("button.manim-clip-copy")) {
      const field = document.getElementById(button.dataset.target);
      const status = button.nextElementSibling;
      if (!field) continue;
      button.hidden = false;
      button.addEventListener("click", async () => {
        field.focus();
        field.select();
        let copied = false;
        try {
          await navigator.clipboard.writeText(field.value);
          copied = true;
        } catch (_error) {
          try {
            copied = document.execCommand("copy");
          } catch (_ignored) {
            copied = false;
          }
        }
        status.textContent = copied ? "Copied." : "Selected: press Ctrl+C (⌘C) to copy.";
      });
    }
  }

  // Before its metadata loads, a player shows "0:00" for the length. Loading the
  // metadata with the page (preload="metadata") would fetch much of every clip, so the
  // player's time stays hidden until the reader reaches for the clip (pointer, touch,
  // keyboard focus), which loads it. Without this script the player shows 0:00 and the
  // caption has the length.
  function lengthOnIntent() {
    for (const video of document.querySelectorAll("video.manim-clip-video")) {
      if (video.readyState > 0) continue;
      video.classList.add("manim-clip-unloaded");
      const load = () => {
        if (video.preload === "none") video.preload = "metadata";
      };
      for (const type of ["pointerenter", "touchstart", "focusin"]) {
        video.addEventListener(type, load, { once: true, passive: true });
      }
      video.addEventListener("loadedmetadata", () => video.classList.remove("manim-clip-unloaded"));
    }
  }

  // A player draws captions over the bottom of the picture, where the scenes put their
  // legends and formulas. Under the clip instead, in the caption's own place: one line,
  // the clip's caption until it plays, then the cue of the moment (the caption again at
  // the end). Caption and cues share one grid cell, so the tallest sets the height and
  // nothing below moves as they change. aria-hidden: the transcript gives screen readers
  // the same text. The player draws them again in full screen, or whenever the reader
  // picks them in its menu; "Off" there hides them here too. Without this script the
  // player draws them.
  function captionsBelow() {
    const ACTIVE = "manim-clip-cue-active";
    for (const video of document.querySelectorAll("video.manim-clip-video")) {
      const element = video.querySelector("track[kind=captions][default]");
      if (!element) continue;
      const track = element.track;
      const below = document.createElement("div");
      below.className = "manim-clip-cues";
      below.setAttribute("aria-hidden", "true");
      const caption = video.closest("figure").querySelector("figcaption .caption-text");
      const line = document.createElement("div");
      line.className = "manim-clip-line";
      if (caption) {
        const named = document.createElement("span"); // the caption and its permalink
        named.className = "manim-clip-caption";
        caption.before(line);
        const permalink = caption.nextElementSibling;
        named.append(caption);
        if (permalink?.matches("a.headerlink")) named.append(permalink);
        line.append(named, below);
      } else {
        video.after(line);
        line.append(below);
      }
      const cueing = () =>
        line.classList.toggle("manim-clip-cueing", video.currentTime > 0 && !video.ended);
      for (const type of ["play", "seeked", "ended", "emptied"])
        video.addEventListener(type, cueing);
      let lines = [];
      const show = () => {
        cueing();
        const time = video.currentTime;
        let current = [...(track.activeCues || [])];
        if (!current.length) {
          // not started yet: the cue of the current time; after the end: none, and the
          // last one stays
          current = lines
            .map(({ cue }) => cue)
            .filter((cue) => cue.startTime <= time && time < cue.endTime);
        }
        if (current.length) {
          for (const { cue, line } of lines) line.classList.toggle(ACTIVE, current.includes(cue));
        }
        below.hidden = track.mode !== "hidden";
      };
      const fill = () => {
        if (lines.length || !track.cues || !track.cues.length) return;
        lines = [...track.cues].map((cue) => {
          const line = document.createElement("p");
          line.textContent = cue.text;
          below.append(line);
          return { cue, line };
        });
        show();
      };
      element.addEventListener("load", fill);
      track.addEventListener("cuechange", show);
      video.textTracks.addEventListener("change", show);
      let chosen = "hidden"; // the reader's choice, restored after full screen
      document.addEventListener("fullscreenchange", () => {
        if (document.fullscreenElement === video) {
          chosen = track.mode;
          if (chosen === "hidden") track.mode = "showing";
        } else if (chosen === "hidden" && track.mode === "showing") {
          track.mode = "hidden";
        }
      });
      track.mode = "hidden"; // loads the cues (a data: URL) without drawing them
      fill();
    }
  }

  // A transcript's times (the film's chapters) are links to that moment of the video
  // file: on the page they play the clip above them from there instead.
  function seekLinks() {
    for (const link of document.querySelectorAll("figure .manim-clip-time a[data-seek]")) {
      const video = link.closest("figure").querySelector("video.manim-clip-video");
      if (!video) continue;
      link.addEventListener("click", (event) => {
        event.preventDefault();
        const at = Number(link.dataset.seek);
        // A clip seeks once the moment is seekable: at once from a host that serves
        // ranges of the file, else when the file has loaded that far. Playing loads it.
        const seek = () => {
          const ranges = video.seekable;
          for (let i = 0; i < ranges.length; i += 1) {
            if (ranges.start(i) <= at && at <= ranges.end(i)) {
              video.currentTime = at;
              for (const type of ["loadedmetadata", "progress"])
                video.removeEventListener(type, seek);
              return;
            }
          }
        };
        for (const type of ["loadedmetadata", "progress"]) video.addEventListener(type, seek);
        seek();
        video.play().catch(() => {}); // the browser may refuse; the reader can press play
        video.scrollIntoView({ block: "nearest" });
        video.focus();
      });
    }
  }

  function ready() {
    seekLinks();
    captionsBelow();
    start();
    lengthOnIntent();
    copyButtons();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
