// The hall's display board: follows the live feed (Server-Sent Events), shows each call and
// speaks it in Indonesian, or plays a chime where the browser has no Indonesian voice. The
// last announced event number is kept, so a reconnect or a reload never announces twice.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board || !window.EventSource) { return; }
  var list = document.getElementById("calls");
  var hint = document.getElementById("sound-hint");
  var key = "mpp-board-last:" + board.getAttribute("data-feed");
  var stored = parseInt(window.localStorage ? localStorage.getItem(key) || "0" : "0", 10);
  var last = Math.max(parseInt(board.getAttribute("data-last") || "0", 10), stored || 0);
  var soundOn = false;
  var audio = null;

  document.addEventListener("click", function () {
    soundOn = true;
    if (hint) { hint.hidden = true; }
    if (!audio && window.AudioContext) { audio = new AudioContext(); }
  });

  function chime() {
    if (!audio) { return; }
    [660, 880].forEach(function (freq, i) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.2, audio.currentTime + i * 0.35);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + i * 0.35 + 0.3);
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(audio.currentTime + i * 0.35); osc.stop(audio.currentTime + i * 0.35 + 0.32);
    });
  }

  function speak(text) {
    if (!soundOn) { return; }
    var voices = window.speechSynthesis ? speechSynthesis.getVoices() : [];
    var voice = voices.filter(function (v) { return /^id/i.test(v.lang); })[0];
    if (!voice) { chime(); return; }
    var u = new SpeechSynthesisUtterance(text);
    u.lang = "id-ID"; u.voice = voice; u.rate = 0.9;
    speechSynthesis.speak(u);
  }

  function show(e) {
    var li = document.createElement("li");
    var code = document.createElement("span"); code.className = "code"; code.textContent = e.code;
    var counter = document.createElement("span"); counter.className = "counter";
    counter.textContent = e.counter_number ? "Loket " + e.counter_number : "";
    li.appendChild(code); li.appendChild(document.createTextNode(" ")); li.appendChild(counter);
    var previous = list.querySelector(".latest");
    if (previous) { previous.className = ""; }
    li.className = "latest";
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 12) { list.removeChild(list.lastChild); }
  }

  var source = new EventSource(board.getAttribute("data-feed") + "?setelah=" + last);
  source.addEventListener("call", function (message) {
    var e = JSON.parse(message.data);
    if (e.seq <= last) { return; }
    last = e.seq;
    if (window.localStorage) { localStorage.setItem(key, String(last)); }
    show(e);
    speak(e.announcement);
  });
})();
