/* Learner pages: small progressive enhancements. Everything works without this file. */
(function () {
  "use strict";

  // Focus what the server marked (error summary, quiz result, "saved" notice) so that it is read out first.
  var target = document.querySelector("[data-autofocus]");
  if (target) {
    target.focus();
  }

  // "Open in a new window" helps only inside the LMS's frame; in a window of its own it would open a second copy.
  if (window.self === window.top) {
    Array.prototype.forEach.call(document.querySelectorAll(".new-window"), function (link) {
      link.parentNode.removeChild(link);
    });
  }

  // Ordering questions: choosing a position swaps it with the item that had it, so every position stays used once.
  Array.prototype.forEach.call(document.querySelectorAll(".ordering"), function (list) {
    var selects = Array.prototype.slice.call(list.querySelectorAll("select"));
    selects.forEach(function (select) {
      select.setAttribute("data-previous", select.value);
      select.addEventListener("change", function () {
        var old = select.getAttribute("data-previous");
        selects.forEach(function (other) {
          if (other !== select && other.value === select.value) {
            other.value = old;
            other.setAttribute("data-previous", old);
          }
        });
        select.setAttribute("data-previous", select.value);
      });
    });
  });

  // Practice task: how many characters so far (counted as the server counts them).
  var text = document.getElementById("practice-text");
  var counter = document.getElementById("practice-count");
  if (text && counter) {
    var update = function () {
      var n = text.value.replace(/\r\n?/g, "\n").trim().length;
      var message = counter.getAttribute("data-template").replace("{n}", String(n));
      if (n < Number(text.getAttribute("data-min"))) {
        message += " (" + counter.getAttribute("data-too-short") + ")";
      }
      counter.textContent = message;
    };
    text.addEventListener("input", update);
    update();
  }
})();
