/* Session timing (WCAG 2.2.1): warn before the session ends, let people continue with one action.
   The server says how many seconds are left (data-idle: until the session ends for inactivity, data-absolute:
   until it ends at the latest); the warning appears data-warn seconds before. "Continue working" (and typing,
   which counts as activity) asks the server to put the idle end off. The warning is an alertdialog that does
   not block the page: screen readers announce it, the keyboard focus moves to its first button, and Escape or
   "Close this notice" returns the focus to where it was. Everything else works without this file. */
(function () {
  "use strict";

  var box = document.getElementById("session-warning");
  if (!box || !window.fetch) {
    return;
  }
  var text = document.getElementById("session-warning-text");
  var extendButton = document.getElementById("session-extend");
  var dismissButton = document.getElementById("session-dismiss");
  var status = document.getElementById("session-status");
  var warnSeconds = Number(box.getAttribute("data-warn"));
  var loadedAt = Date.now();
  var idleEnd = loadedAt + Number(box.getAttribute("data-idle")) * 1000;
  var absoluteEnd = loadedAt + Number(box.getAttribute("data-absolute")) * 1000;
  var dismissedUntil = 0;
  var lastExtend = loadedAt;
  var returnFocus = null;
  var timer = null;

  function minutesLeft(end) {
    return Math.max(1, Math.ceil((end - Date.now()) / 60000));
  }

  function show(message, canExtend) {
    text.textContent = message;
    extendButton.hidden = !canExtend;
    if (box.hidden) {
      returnFocus = document.activeElement;
      box.hidden = false;
      (canExtend ? extendButton : dismissButton).focus();
    }
  }

  function hide() {
    box.hidden = true;
    if (returnFocus && returnFocus.focus) {
      returnFocus.focus();
    }
    returnFocus = null;
  }

  function tick() {
    var now = Date.now();
    var end = Math.min(idleEnd, absoluteEnd);
    if (now >= end) {
      show(text.getAttribute("data-ended-text"), false);
      return;
    }
    if (now >= end - warnSeconds * 1000 && now >= dismissedUntil) {
      var absolute = absoluteEnd <= idleEnd;
      var template = text.getAttribute(absolute ? "data-absolute-text" : "data-idle-text");
      show(template.replace("{minutes}", String(minutesLeft(end))), !absolute);
    }
    var warnAt = end - warnSeconds * 1000;
    var next = now < warnAt ? Math.min(15000, Math.max(500, warnAt - now)) : 15000;
    timer = window.setTimeout(tick, Math.min(next, Math.max(500, end - now)));
  }

  function extend(announce) {
    lastExtend = Date.now();
    var body = new URLSearchParams();
    body.set("csrf_token", box.getAttribute("data-csrf"));
    return fetch(box.getAttribute("data-extend-url"), {
      method: "POST",
      headers: { "Accept": "application/json" },
      body: body,
      credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) {
        throw new Error(String(response.status));
      }
      return response.json();
    }).then(function (clock) {
      idleEnd = Date.now() + clock.idle_remaining * 1000;
      absoluteEnd = Date.now() + clock.absolute_remaining * 1000;
      if (announce) {
        hide();
        status.textContent = box.getAttribute("data-extended-text") || "";
      }
    }).catch(function () {
      if (announce) {
        idleEnd = Date.now();
        show(text.getAttribute("data-ended-text"), false);
      }
    });
  }

  extendButton.addEventListener("click", function () {
    extend(true);
  });
  dismissButton.addEventListener("click", function () {
    dismissedUntil = Date.now() + 60000;
    hide();
  });
  box.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      dismissedUntil = Date.now() + 60000;
      hide();
    }
  });
  // Typing counts as activity: at most one request every five minutes while someone writes.
  document.addEventListener("input", function () {
    if (Date.now() - lastExtend > 300000 && Date.now() < idleEnd) {
      extend(false);
    }
  });
  timer = window.setTimeout(tick, 1000);
})();
