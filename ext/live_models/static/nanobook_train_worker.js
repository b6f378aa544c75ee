/* The page's trainer in a Web Worker: nanobook_train.js's driver behind postMessage, so
   the page stays responsive while the model trains. Started by nanobook.training.start
   (served pages only: from file://, Chromium refuses worker scripts). */
importScripts("nanobook_live.js", "nanobook_train.js");
const handle = nanobook.training.driver((message) => self.postMessage(message));
self.addEventListener("message", (event) => handle(event.data));
self.postMessage({ type: "ready" });
