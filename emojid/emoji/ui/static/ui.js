// emojid web UI: small helps on top of htmx. Every page works without them.
(function () {
  "use strict";

  // Files dropped anywhere on an "Add emoji" form are picked and uploaded.
  function dropzones(root) {
    root.querySelectorAll("[data-dropzone]").forEach(function (form) {
      if (form.dataset.dropReady) return;
      form.dataset.dropReady = "1";
      var input = form.querySelector("input[type=file]");
      ["dragenter", "dragover"].forEach(function (type) {
        form.addEventListener(type, function (event) {
          event.preventDefault();
          form.classList.add("dragging");
        });
      });
      ["dragleave", "dragend"].forEach(function (type) {
        form.addEventListener(type, function () { form.classList.remove("dragging"); });
      });
      form.addEventListener("drop", function (event) {
        event.preventDefault();
        form.classList.remove("dragging");
        if (!event.dataTransfer || !event.dataTransfer.files.length) return;
        input.files = event.dataTransfer.files;
        form.requestSubmit();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { dropzones(document); });
  document.addEventListener("htmx:load", function (event) { dropzones(event.detail.elt); });

  // An upload that went through leaves an empty picker for the next one.
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (event.detail.successful && elt.matches && elt.matches("[data-dropzone]")) elt.reset();
  });

  // When a swap takes away the focused control (a tile deleted or renamed), focus
  // moves to the tile now in its place, or to its neighbour: never back to the top.
  // (A removed tile gets no later htmx events, hence the timer.)
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || !target.classList || !target.classList.contains("tile")) return;
    var place = { tile: target, prev: target.previousElementSibling, next: target.nextElementSibling,
                  parent: target.parentElement, tries: 0 };
    setTimeout(function () { refocus(place); }, 30);
  });

  function refocus(place) {
    if (place.tile.isConnected && place.tries++ < 40) {
      setTimeout(function () { refocus(place); }, 25);
      return;
    }
    var active = document.activeElement;
    if (active && active !== document.body && document.body.contains(active)) return;
    var first = place.prev ? place.prev.nextElementSibling : place.parent && place.parent.firstElementChild;
    var candidates = [first, place.next, place.prev];
    for (var i = 0; i < candidates.length; i++) {
      var tile = candidates[i];
      if (tile && document.body.contains(tile)) {
        var control = tile.querySelector("button, a[href], input:not([type=hidden])");
        if (control) { control.focus(); return; }
      }
    }
  }
})();
