// The console's only script (served from /console/assets; the CSP allows no inline script). Pages work
// without it; it adds copy buttons where a value is shown once.
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  const status = document.getElementById('copy-status');
  for (const button of document.querySelectorAll('button[data-copy]')) {
    const source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(source.textContent);
        if (status) status.textContent = button.dataset.copied || 'Copied to the clipboard.';
      } catch {
        if (status) status.textContent = 'Copying failed: select the text and copy it yourself.';
      }
    });
  }
});
