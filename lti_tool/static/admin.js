// Operator area: a "Copy link" button next to a newly issued registration link. Without JavaScript the button
// stays hidden and the read-only field can be selected and copied by hand.
"use strict";
document.querySelectorAll("button[data-copy]").forEach((button) => {
  const field = document.getElementById(button.dataset.copy);
  const status = document.querySelector(`[data-copy-status="${button.dataset.copy}"]`);
  if (!field || !status) return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    field.select();
    let copied = false;
    try {
      await navigator.clipboard.writeText(field.value);
      copied = true;
    } catch (_error) {
      copied = document.execCommand && document.execCommand("copy");
    }
    status.textContent = copied ? status.dataset.copied : status.dataset.failed;
  });
});

// A message the server marked (a refused sign-in, an ended session) gets the focus, so it is read out first.
const message = document.querySelector("[data-autofocus]");
if (message) message.focus();
