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

  // Ordering questions: choosing a position swaps it with the item that had it, so every position stays used once;
  // the list then shows the items in their chosen order, each has "move up"/"move down" buttons, and a polite live
  // region says where the item is now (WCAG 3.3.2, 4.1.3). Without JavaScript the position selects work alone.
  Array.prototype.forEach.call(document.querySelectorAll(".ordering"), function (list) {
    var items = Array.prototype.slice.call(list.querySelectorAll(".ordering__item"));
    var total = items.length;
    var live = document.createElement("p");
    live.className = "visually-hidden";
    live.setAttribute("aria-live", "polite");
    list.parentNode.insertBefore(live, list.nextSibling);
    var selectOf = function (item) { return item.querySelector("select"); };
    var textOf = function (item) {
      var text = item.querySelector(".ordering__text");
      return (text ? text.textContent : item.textContent).replace(/\u00ad/g, "").trim();
    };
    var arrange = function (focus) {
      items.slice().sort(function (a, b) {
        return Number(selectOf(a).value) - Number(selectOf(b).value);
      }).forEach(function (item) { list.appendChild(item); });
      items.forEach(function (item) {
        var position = Number(selectOf(item).value);
        item.querySelector(".ordering__up").disabled = position === 1;
        item.querySelector(".ordering__down").disabled = position === total;
      });
      if (focus) {
        (focus.disabled ? focus.parentNode.querySelector("button:not([disabled]), select") : focus).focus();
      }
    };
    var announce = function (item) {
      live.textContent = list.getAttribute("data-moved")
        .replace("{item}", textOf(item)).replace("{n}", selectOf(item).value).replace("{total}", String(total));
    };
    var place = function (item, position) {
      var select = selectOf(item);
      var old = select.value;
      items.forEach(function (other) {
        var otherSelect = selectOf(other);
        if (other !== item && otherSelect.value === String(position)) {
          otherSelect.value = old;
          otherSelect.setAttribute("data-previous", old);
        }
      });
      select.value = String(position);
      select.setAttribute("data-previous", select.value);
    };
    items.forEach(function (item) {
      var select = selectOf(item);
      select.setAttribute("data-previous", select.value);
      select.addEventListener("change", function () {
        var wanted = select.value;
        select.value = select.getAttribute("data-previous");
        place(item, Number(wanted));
        arrange(select);
        announce(item);
      });
      [["up", -1], ["down", 1]].forEach(function (pair) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "ordering__move ordering__" + pair[0];
        button.textContent = list.getAttribute("data-" + pair[0]);
        var hidden = document.createElement("span");
        hidden.className = "visually-hidden";
        hidden.textContent = ": " + textOf(item);
        button.appendChild(hidden);
        button.addEventListener("click", function () {
          var target = Number(select.value) + pair[1];
          if (target < 1 || target > total) { return; }
          place(item, target);
          arrange(button);
          announce(item);
        });
        item.appendChild(button);
      });
    });
    arrange(null);
  });

  // Error summary links: focus the field without the browser scrolling it to the top edge (which hides the question
  // above it); bring its whole question or field into view instead.
  Array.prototype.forEach.call(document.querySelectorAll(".error-summary a[href^='#']"), function (link) {
    link.addEventListener("click", function (event) {
      var target = document.getElementById(link.getAttribute("href").slice(1));
      if (!target) { return; }
      event.preventDefault();
      var box = target.closest("fieldset, .field") || target;
      box.scrollIntoView({ block: "start" });
      target.focus({ preventScroll: true });
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
    // Screen readers hear the count once typing pauses, not at every key (a polite live region of its own).
    var spoken = document.createElement("p");
    spoken.className = "visually-hidden";
    spoken.setAttribute("aria-live", "polite");
    counter.parentNode.insertBefore(spoken, counter.nextSibling);
    var pause = null;
    text.addEventListener("input", function () {
      update();
      window.clearTimeout(pause);
      pause = window.setTimeout(function () { spoken.textContent = counter.textContent; }, 1500);
    });
    update();
  }
})();
