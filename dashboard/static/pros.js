/* "How the patient feels" (session page): the LEFS total while it is being filled in, and a
   button that clears the LEFS when it was not asked. The server computes and checks the
   total itself (dashboard/pros.py); this is only what the clinician sees while tapping. */
(function () {
  "use strict";
  var form = document.getElementById("pros-form");
  if (!form) { return; }
  var out = document.getElementById("lefs-total");
  var N = 20;
  function update() {
    var answered = 0, total = 0;
    for (var i = 1; i <= N; i++) {
      var c = form.querySelector('input[name="lefs_item_' + i + '"]:checked');
      if (c) { answered++; total += parseInt(c.value, 10); }
    }
    if (answered === 0) { out.textContent = "LEFS not filled in"; }
    else if (answered < N) { out.textContent = "LEFS: " + answered + " of " + N + " answered (" + (N - answered) + " to go)"; }
    else { out.textContent = "LEFS total " + total + " / 80"; }
  }
  form.addEventListener("change", update);
  document.getElementById("lefs-clear").addEventListener("click", function () {
    form.querySelectorAll('input[name^="lefs_item_"]').forEach(function (el) { el.checked = false; });
    update();
  });
  update();
})();
