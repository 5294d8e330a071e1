// Submit the deep-linking response to the platform without a click (a visible button remains for no-JS).
document.getElementById("auto-submit").submit();
