// Results as you type (the server renders them: the same HTML as the plain form) and copy buttons.
(function () {
  "use strict";
  var form = document.getElementById("search-form"), timer = 0, asked = 0;
  if (form && window.fetch && window.DOMParser) {
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var url = "/search?" + new URLSearchParams(new FormData(form)).toString(), mine = ++asked;
        fetch(url).then(function (r) { return r.text(); }).then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("results");
          var old = document.getElementById("results");
          if (mine !== asked || !fresh || !old) { return; }
          old.replaceWith(document.importNode(fresh, true));
          history.replaceState(null, "", url);
        });
      }, 150);
    });
  }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.dataset.copy);
    var status = document.getElementById(button.dataset.copy + "-status");
    button.hidden = false;
    button.addEventListener("click", function () {
      field.focus();
      field.select();
      var done = function () { status.textContent = "Copied"; };
      var fallback = function () { document.execCommand("copy"); done(); };
      if (navigator.clipboard) { navigator.clipboard.writeText(field.value).then(done, fallback); } else { fallback(); }
    });
  });
}());
