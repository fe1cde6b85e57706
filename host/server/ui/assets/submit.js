// The submit form: a workflow file chosen in `#workflow-file` is read by the browser into
// the `#workflow` text (nothing is sent until the form is).
'use strict';
(function () {
  const file = document.getElementById('workflow-file');
  const text = document.getElementById('workflow');
  if (!file || !text) return;
  file.addEventListener('change', async () => {
    const chosen = file.files && file.files[0];
    if (!chosen) return;
    // The server refuses a workflow over 1 MiB: say so before reading it.
    if (chosen.size > 1 << 20) {
      file.setCustomValidity('A workflow may be at most 1 MiB.');
      file.reportValidity();
      return;
    }
    file.setCustomValidity('');
    text.value = await chosen.text();
  });
})();
