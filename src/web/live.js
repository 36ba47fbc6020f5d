// Live alerts: a red banner per unacknowledged emergency or urgent call, pushed by the server
// (/live/alerts, Server-Sent Events; EventSource reconnects by itself and the server replays what
// is still unacknowledged). Browsers play sound only after a gesture on the page, so the page asks
// once ("Enable alert sound"); the banner shows either way and says when the sound is blocked.
(function () {
  "use strict";
  var box = document.getElementById("live-alerts");
  if (!box || !window.EventSource) return;
  var csrf = box.getAttribute("data-csrf");
  var sound = new Audio("/live/alert.wav");
  var soundAllowed = sessionStorage.getItem("cl_sound") === "on";
  var attempts = 0;

  var enable = document.createElement("button");
  enable.type = "button";
  enable.id = "enable-sound";
  enable.className = "plain";
  enable.textContent = "Enable alert sound";
  enable.hidden = soundAllowed;
  enable.addEventListener("click", function () {
    sound.muted = true;
    sound.play().then(function () { sound.pause(); sound.currentTime = 0; }).catch(function () {}).then(function () { sound.muted = false; });
    soundAllowed = true;
    sessionStorage.setItem("cl_sound", "on");
    enable.hidden = true;
  });
  box.appendChild(enable);

  function ring(banner) {
    attempts += 1;
    document.body.setAttribute("data-sound-attempts", String(attempts));
    var note = banner.querySelector(".sound-note");
    sound.currentTime = 0;
    sound.play().then(function () {
      document.body.setAttribute("data-sound", "played");
      note.textContent = "";
    }).catch(function () {
      document.body.setAttribute("data-sound", "blocked");
      note.textContent = soundAllowed ? " (sound could not play)" : " (sound blocked: press Enable alert sound)";
      enable.hidden = false;
    });
  }

  function show(alert) {
    if (document.getElementById("alert-" + alert.call_id)) return;
    var banner = document.createElement("div");
    banner.className = "alert-banner";
    banner.id = "alert-" + alert.call_id;
    banner.setAttribute("role", "alert");
    banner.setAttribute("data-call", alert.call_id);
    var title = document.createElement("strong");
    title.textContent = (alert.severity === "emergency" ? "Emergency" : "Urgent") + " call: ";
    banner.appendChild(title);
    banner.appendChild(document.createTextNode([alert.kind].concat(alert.red_flags).join(", ") + " · " + new Date(alert.raised_at).toLocaleTimeString() + " "));
    var link = document.createElement("a");
    link.href = alert.link;
    link.textContent = "Open the call";
    banner.appendChild(link);
    var note = document.createElement("span");
    note.className = "sound-note";
    banner.appendChild(note);
    var form = document.createElement("form");
    form.method = "post";
    form.action = alert.ack;
    form.className = "inline";
    var token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrf";
    token.value = csrf;
    form.appendChild(token);
    var ack = document.createElement("button");
    ack.type = "submit";
    ack.textContent = "Acknowledge";
    form.appendChild(ack);
    banner.appendChild(form);
    box.insertBefore(banner, enable);
    ring(banner);
  }

  var source = new EventSource("/live/alerts");
  source.addEventListener("alert", function (e) { show(JSON.parse(e.data)); });
  source.addEventListener("acknowledged", function (e) {
    var done = document.getElementById("alert-" + JSON.parse(e.data).call_id);
    if (done) done.remove();
  });
  source.addEventListener("open", function () { box.setAttribute("data-connected", "yes"); });
  source.addEventListener("error", function () { box.setAttribute("data-connected", "no"); });
})();
