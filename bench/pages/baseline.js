// The seed's check in plain JavaScript, the benchmark's baseline: a session token kept in this
// tab's sessionStorage decides the page's state at once. (It never consults other tabs, which
// is why it cannot enforce anything; here it only sets the floor for "time to a decision".)
(function () {
  var root = document.documentElement;
  var token = null;
  try {
    token = window.sessionStorage.getItem("seed-session-token");
    if (!token) {
      token = String(Math.random()).slice(2);
      window.sessionStorage.setItem("seed-session-token", token);
    }
  } catch (error) {
    root.setAttribute("data-tab-state", "error");
    return;
  }
  root.setAttribute("data-tab-state", token ? "active" : "blocked");
})();
